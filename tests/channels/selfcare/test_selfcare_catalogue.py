"""Every word /me shows exists in every language, and every key the pages and templates
ask for is in the catalogue (a missing one would be a server error on that page)."""

from __future__ import annotations

import re
from pathlib import Path

import kiunga.channels.selfcare as selfcare
from kiunga.channels.selfcare.i18n import LANGUAGES, STRINGS, Translator
from kiunga.channels.selfservice.payments import ClaimResult
from kiunga.channels.selfservice.tickets import CATEGORIES
from kiunga.tenants.services.models import ServiceStatus
from kiunga.tenants.subscribers.models import SubscriberStatus
from kiunga.tenants.tickets.models import TicketStatus

FOLDER = Path(selfcare.__file__).parent
# t("key") in code and templates; t("st_" ~ status) prefixes are checked by their enums.
ASKED = re.compile(r"""\bt\(\s*["']([a-z_]*[a-z])["']""")


def test_every_entry_is_in_every_language_with_the_same_placeholders():
    for key, entry in STRINGS.items():
        assert set(entry) == set(LANGUAGES), key
        placeholders = {frozenset(re.findall(r"{(\w+)}", text)) for text in entry.values()}
        assert len(placeholders) == 1, (key, placeholders)


def test_every_key_asked_for_is_there():
    asked = set()
    for path in [*FOLDER.glob("*.py"), *FOLDER.glob("templates/*.html")]:
        asked |= set(ASKED.findall(path.read_text()))
    asked |= {f"st_{s.value}" for s in (*ServiceStatus, *SubscriberStatus)}
    asked |= {f"tk_{s.value}" for s in TicketStatus}
    asked |= {f"cat_{c}" for c in CATEGORIES}
    asked |= {f"claim_{o}" for o in ("assigned", "already_yours", "sent_to_staff", "not_found")}
    missing = sorted(asked - set(STRINGS))
    assert not missing
    assert ClaimResult  # the outcomes above are the claim's


def test_a_third_language_is_only_a_catalogue_entry():
    assert Translator("fr").language == "en"
    assert Translator("sw")("sign_out") == "Toka"
