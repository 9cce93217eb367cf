"""The texts and the renderers: a gap in a catalogue is no error, USSD screens within 182
characters with their prefix, SMS replies in one segment, keywords read through accents,
emoji and `*`. (Every key in every language with the same placeholders: test_catalogues.)"""

from __future__ import annotations

import pytest
from kiunga.channels.conversations.engine import Option, Screen
from kiunga.channels.conversations.keywords import amount_in, matches_package, parse_command
from kiunga.channels.conversations.render import SmsRenderer, UssdRenderer, WhatsAppRenderer
from kiunga.channels.conversations.texts import translate
from kiunga.channels.messages.segments import count_segments


def test_a_missing_value_is_blank_and_a_missing_language_is_english():
    assert translate("sw", "home.guest_title", isp="Kiunga Net") == "Karibu Kiunga Net"
    assert translate("xx", "home.guest_title") == "Welcome to "


def _long_menu(count: int, width: int) -> Screen:
    return Screen(
        "Kiunga Net: Achieng\nA second line of text that is rather long for a phone",
        [Option(f"Choice {n} " + "x" * width, "home") for n in range(count)],
    )


@pytest.mark.parametrize("language", ["en", "sw"])
@pytest.mark.parametrize(("count", "width"), [(0, 0), (3, 5), (9, 12), (20, 20), (40, 160)])
def test_every_ussd_page_fits_in_182_characters_with_its_prefix(language, count, width):
    renderer = UssdRenderer(language)
    for final in (False, True):
        screen = _long_menu(count, width)
        screen.final = final and not count
        screen.hint = "Choose a number from the list."
        pages = renderer.pages(screen)
        numbers_seen = []
        for page in range(pages):
            text = renderer.render(screen, page)
            assert len(text) <= 182, (len(text), text)
            assert text.startswith("END " if screen.final else "CON ")
            if not screen.final:
                assert translate(language, "common.nav") in text
            if page + 1 < pages:
                assert "98. " in text
            numbers_seen += [line.split(".")[0] for line in text.split("\n")[1:] if ". " in line]
        if count and width < 100:
            # Each option shows once, with its own number, on some page.
            assert [n for n in numbers_seen if n not in ("98",)] == [
                str(n) for n in range(1, count + 1)
            ]


def test_sms_replies_stay_within_one_segment_where_they_can():
    screen = Screen(
        "Kiunga Net: Achieng",
        [Option(label, "home") for label in ("My account", "Pay", "Buy voucher", "Help")],
    )
    reply = SmsRenderer("en").render(screen)
    assert count_segments(reply).count == 1 and "1 My account" in reply
    many = Screen("Choose", [Option(f"Package number {n}", "home") for n in range(12)])
    squeezed = SmsRenderer("en").render(many)
    assert "1 Package number 0, 2 Package number 1" in squeezed


def test_whatsapp_numbers_its_menus_and_shows_the_way_back():
    screen = Screen("Pay for S00001", [Option("Pay KES 1,500", "pay_confirm")])
    text = WhatsAppRenderer("sw").render(screen)
    assert "*1* Pay KES 1,500" in text and "00 menyu" in text


@pytest.mark.parametrize(
    ("text", "action", "language", "rest"),
    [
        ("BAL", "balance", "en", ""),
        ("bal", "balance", "en", ""),
        ("Salio 👍", "balance", "sw", ""),
        ("SALÍO", "balance", "sw", ""),
        ("PAY 500", "pay", "en", "500"),
        ("lipa*500", "pay", "sw", "500"),
        ("Lipa 1,500", "pay", "sw", "1 500"),
        ("BUY day pass", "buy", "en", "day pass"),
        ("nunua Saa moja", "buy", "sw", "Saa moja"),
        ("TICKET no internet since *morning* 😡", "ticket", "en", "no internet since *morning* 😡"),
        ("tiketi hakuna mtandao", "ticket", "sw", "hakuna mtandao"),
        ("help", "help", "en", ""),
        ("MSAADA", "help", "sw", ""),
        ("Stop", "stop", None, ""),
        ("START", "start", None, ""),
    ],
)
def test_keywords_in_both_languages(text, action, language, rest):
    command = parse_command(text)
    assert command is not None and command.action == action and command.language == language
    assert command.rest == rest


@pytest.mark.parametrize("text", ["", "1", "hello", "😀", "***", "balcony", "Payment"])
def test_free_text_is_no_keyword(text):
    assert parse_command(text) is None


def test_amounts_and_package_names():
    assert amount_in("500") == 50_000 and amount_in("KES 1,500") == 150_000
    assert amount_in("five") is None and amount_in("9" * 12) is None
    assert matches_package("day", "Day pass") and matches_package("saa1", "Saa 1")
    assert not matches_package("", "Day pass") and not matches_package("week", "Day pass")
