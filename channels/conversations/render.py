"""A screen as each channel shows it.

- USSD (Africa's Talking): `CON ` or `END ` and the screen, 182 characters in all, the
  prefix counted. The options are numbered; when they do not fit with the text, they are
  split over pages and "98 More" shows the next (the numbers stay the same on every
  page). The text is shortened last, with "…". "0 Back 00 Home" on every screen that
  goes on, except home itself.
- SMS: one 160-character GSM-7 segment where it can be: the options on one line
  ("1 Pay, 2 Buy voucher") when one per line would need a second segment.
- WhatsApp: numbered options one per line, and the way back and home under them.
"""

from __future__ import annotations

from kiunga.channels.conversations.engine import MORE, Screen
from kiunga.channels.conversations.texts import translate
from kiunga.channels.messages.segments import count_segments

USSD_LIMIT = 182
ELLIPSIS = "…"


def _shorten(text: str, room: int) -> str:
    if len(text) <= room:
        return text
    if room <= 1:
        return ""
    return text[: room - 1].rstrip() + ELLIPSIS


def _option_lines(screen: Screen) -> list[str]:
    return [f"{number}. {option.label}" for number, option in enumerate(screen.options, 1)]


class UssdRenderer:
    limit = USSD_LIMIT

    def __init__(self, language: str):
        self.language = language

    def _fixed(self, screen: Screen) -> list[str]:
        """The lines every page of a screen carries besides its text and options."""
        lines = []
        if not screen.final and not screen.home:
            lines.append(translate(self.language, "common.nav"))
        return lines

    def _more(self) -> str:
        return f"{MORE}. {translate(self.language, 'common.more')}"

    def _room_for_options(self, screen: Screen) -> int:
        head = 4  # "CON " / "END "
        fixed = sum(len(line) + 1 for line in self._fixed(screen))
        hint = len(screen.hint) + 1 if screen.hint else 0
        # The text keeps at least its first line (or 40 characters) on a split screen.
        text = min(len(screen.text.split("\n", 1)[0]), 40) + 1
        return self.limit - head - fixed - hint - text

    def split(self, screen: Screen) -> list[list[str]]:
        """The option lines on each page."""
        lines = _option_lines(screen)
        if not lines:
            return [[]]
        room = self._room_for_options(screen)
        if sum(len(line) + 1 for line in lines) <= room:
            return [lines]
        room -= len(self._more()) + 1
        pages: list[list[str]] = [[]]
        used = 0
        for line in lines:
            width = len(line) + 1
            if pages[-1] and used + width > room:
                pages.append([])
                used = 0
            pages[-1].append(_shorten(line, max(room - 1, 8)))
            used += width
        return pages

    def pages(self, screen: Screen) -> int:
        return len(self.split(screen))

    def render(self, screen: Screen, page: int = 0) -> str:
        head = "END " if screen.final else "CON "
        pages = self.split(screen)
        page = max(0, min(page, len(pages) - 1))
        options = list(pages[page])
        if page + 1 < len(pages):
            options.append(self._more())
        tail = options + self._fixed(screen)
        hint = [screen.hint] if screen.hint else []
        fixed = len(head) + sum(len(line) + 1 for line in hint + tail)
        # Each hint and tail line was counted with its line break: exactly the breaks
        # the joined screen has.
        room = self.limit - fixed
        text = _shorten(screen.text, max(room, 0))
        body = "\n".join([*hint, text, *tail]) if text else "\n".join([*hint, *tail])
        return _shorten(head + body, self.limit)


class SmsRenderer:
    def __init__(self, language: str):
        self.language = language

    def render(self, screen: Screen, page: int = 0) -> str:
        parts = [screen.hint] if screen.hint else []
        parts.append(screen.text)
        if not screen.options:
            return "\n".join(parts)
        lines = [f"{n} {option.label}" for n, option in enumerate(screen.options, 1)]
        tall = "\n".join([*parts, *lines])
        if count_segments(tall).count == 1:
            return tall
        return "\n".join([*parts, ", ".join(lines)])


class WhatsAppRenderer:
    def __init__(self, language: str):
        self.language = language

    def render(self, screen: Screen, page: int = 0) -> str:
        blocks = []
        if screen.hint:
            blocks.append(f"_{screen.hint}_")
        blocks.append(screen.text)
        if screen.options:
            blocks.append(
                "\n".join(f"*{n}* {option.label}" for n, option in enumerate(screen.options, 1))
            )
        if not screen.final and not screen.home:
            blocks.append(translate(self.language, "common.wa_nav"))
        return "\n\n".join(blocks)


def renderer_for(channel: str, language: str):
    if channel == "ussd":
        return UssdRenderer(language)
    if channel == "whatsapp":
        return WhatsAppRenderer(language)
    return SmsRenderer(language)
