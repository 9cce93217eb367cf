"""Voucher codes: drawn from the operating system's CSPRNG, from an alphabet without
look-alikes, fast enough to make a hundred thousand in a fraction of a second.

Uniqueness within the ISP is the database's job (a unique index on vouchers.code); the
caller inserts, and draws again for the few that collide.
"""

from __future__ import annotations

import os

# No 0/O, 1/I/L: a code is read off paper or a phone screen and typed in by hand.
DEFAULT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LOOK_ALIKES = frozenset("0O1IL")
MIN_LENGTH, MAX_LENGTH = 6, 24
MAX_PREFIX = 8


class CodeSpecError(ValueError):
    """Bad code settings; `field` names which."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def clean_alphabet(alphabet: str | None) -> str:
    """Upper case, each character once, in the given order; look-alikes and anything but
    letters and digits refused."""
    if not alphabet:
        return DEFAULT_ALPHABET
    text = "".join(dict.fromkeys(alphabet.strip().upper()))
    if not text.isascii() or not text.isalnum():
        raise CodeSpecError("alphabet", "alphabet may hold only letters and digits")
    if bad := sorted(LOOK_ALIKES & set(text)):
        raise CodeSpecError(
            "alphabet", f"alphabet must not hold look-alike characters: {' '.join(bad)}"
        )
    if len(text) < 10:
        raise CodeSpecError("alphabet", "alphabet needs at least 10 different characters")
    return text


def clean_prefix(prefix: str | None) -> str:
    text = (prefix or "").strip().upper()
    if len(text) > MAX_PREFIX:
        raise CodeSpecError("prefix", f"prefix must be at most {MAX_PREFIX} characters")
    if text and not (text.isascii() and text.isalnum()):
        raise CodeSpecError("prefix", "prefix may hold only letters and digits")
    return text


def clean_length(length: object) -> int:
    if isinstance(length, bool) or not isinstance(length, int):
        raise CodeSpecError("code_length", "code_length must be a whole number")
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise CodeSpecError(
            "code_length", f"code_length must be between {MIN_LENGTH} and {MAX_LENGTH}"
        )
    return length


def _byte_table(alphabet: str) -> tuple[bytes, bytes]:
    """A translation table from a random byte to a character, and the bytes to drop so
    that every character is equally likely (rejection sampling: 256 is rarely a multiple
    of the alphabet's size)."""
    size = len(alphabet)
    usable = 256 - 256 % size
    table = bytes(ord(alphabet[value % size]) if value < usable else 0 for value in range(256))
    return table, bytes(range(usable, 256))


def random_codes(count: int, length: int, alphabet: str = DEFAULT_ALPHABET, prefix: str = ""):
    """`count` random codes of `length` characters after `prefix` (not yet checked for
    uniqueness)."""
    table, rejected = _byte_table(alphabet)
    wanted = count * length
    characters = b""
    while len(characters) < wanted:
        # A little more than needed: the rejected bytes are dropped in C by translate.
        raw = os.urandom((wanted - len(characters)) * 5 // 4 + 64)
        characters += raw.translate(table, rejected)
    text = characters[:wanted].decode("ascii")
    return [prefix + text[i : i + length] for i in range(0, wanted, length)]


def normalise_code(typed: str | None) -> str:
    """What a user typed, as stored: upper case, spaces and dashes dropped."""
    return "".join((typed or "").split()).replace("-", "").upper()[: MAX_PREFIX + MAX_LENGTH]
