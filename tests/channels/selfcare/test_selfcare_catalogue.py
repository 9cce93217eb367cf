"""Every key the /me pages and templates ask for is in the catalogue (a missing one would
show as its key). That every language holds every key with the same placeholders, and the
shared loader's own behaviour, are tested in tests/channels/test_catalogues.py."""

from __future__ import annotations

import re
from pathlib import Path

import kiunga.channels.selfcare as selfcare
from kiunga.channels.selfcare.i18n import CATALOGUE, pick_language, translator
from kiunga.channels.selfservice.payments import ClaimResult
from kiunga.channels.selfservice.tickets import CATEGORIES
from kiunga.tenants.services.models import ServiceStatus
from kiunga.tenants.subscribers.models import SubscriberStatus
from kiunga.tenants.tickets.models import TicketStatus

FOLDER = Path(selfcare.__file__).parent
# t("key") in code and templates; t("st_" ~ status) prefixes are checked by their enums.
ASKED = re.compile(r"""\bt\(\s*["']([a-z_]*[a-z])["']""")


def test_every_key_asked_for_is_there():
    asked = set()
    for path in [*FOLDER.glob("*.py"), *FOLDER.glob("templates/*.html")]:
        asked |= set(ASKED.findall(path.read_text()))
    asked |= {f"st_{s.value}" for s in (*ServiceStatus, *SubscriberStatus)}
    asked |= {f"tk_{s.value}" for s in TicketStatus}
    asked |= {f"cat_{c}" for c in CATEGORIES}
    asked |= {f"claim_{o}" for o in ("assigned", "already_yours", "sent_to_staff", "not_found")}
    missing = sorted(key for key in asked if not CATALOGUE.has(key))
    assert not missing
    assert ClaimResult  # the outcomes above are the claim's


def test_an_unknown_language_is_english_and_the_texts_are_the_catalogues():
    assert translator("fr").language == "en" and pick_language("fr") == "en"
    assert pick_language(None, "sw") == "sw" and pick_language("sw") == "sw"
    assert translator("sw")("sign_out") == "Toka"
    assert translator("en")("too_many", minutes=3) == (
        "Too many tries. Wait 3 minutes, then try again."
    )
    assert CATALOGUE.language_name("sw") == "Kiswahili" and CATALOGUE.next_language("sw") == "en"
