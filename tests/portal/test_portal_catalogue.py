"""Every key the portal's code and templates ask for is in its catalogue (a missing one
would show as its key). That every language holds every key with the same placeholders is
tested for all the channels' catalogues in tests/channels/test_catalogues.py."""

from __future__ import annotations

import re
from pathlib import Path

import kiunga.channels.portal as portal
from kiunga.channels.portal.i18n import CATALOGUE, pick_language, translator
from kiunga.channels.portal.purchases import FAILURES
from kiunga.channels.portal.web import REFUSALS
from kiunga.tenants.catalog.models import ValidityUnit
from kiunga.tenants.vouchers.models import VoucherStatus

FOLDER = Path(portal.__file__).parent
# t("key") in the code and the visitors' templates (not the console's).
ASKED = re.compile(r"""\bt\(\s*["']([a-z_]*[a-z])["']""")


def test_validity_units_are_singular_and_plural_in_every_language():
    for language, book in CATALOGUE.books.items():
        assert all(book[k].count("|") == 1 for k in book if k.startswith("unit_")), language


def test_every_key_asked_for_is_there():
    asked = set()
    for path in [*FOLDER.glob("*.py"), *FOLDER.glob("templates/*.html")]:
        asked |= set(ASKED.findall(path.read_text()))
    # Asked for by prefix (f"refused_{reason}", t.unit(…), …): each prefix's members.
    asked |= {f"refused_{reason}" for reason in (*REFUSALS, "other")}
    asked |= {f"failure_{reason}" for reason in FAILURES}
    asked |= {f"unit_{unit.value}" for unit in ValidityUnit}
    asked |= {f"status_{status.value}" for status in VoucherStatus}
    asked |= {"duration_dhm", "duration_hm", "duration_m"}
    assert not sorted(key for key in asked if not CATALOGUE.has(key))


def test_the_portal_speaks_the_isps_default_else_english():
    assert pick_language("fr", "sw") == "sw" and pick_language(None, "xx") == "en"
    assert pick_language("en", "sw") == "en"
    t = translator("sw")
    assert t.unit("month", 1) == "mwezi" and t.unit("month", 3) == "miezi"
    assert t.duration(90_061) == "siku 1 saa 1 dakika 1"
    assert translator("en").duration(3_700) == "1 h 1 min"
    assert t("validity", count=3, unit=t.unit("day", 3)) == "kwa siku 3"
    assert CATALOGUE.language_name("sw") == "Kiswahili" and CATALOGUE.next_language("en") == "sw"
