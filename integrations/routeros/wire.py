"""The RouterOS API's framing: a sentence is a list of words, each prefixed by its length,
ended by an empty word.

A length takes one to five bytes, by how large it is:

    0x00000000 – 0x0000007F   1 byte   0xxxxxxx
    0x00000080 – 0x00003FFF   2 bytes  10xxxxxx xxxxxxxx
    0x00004000 – 0x001FFFFF   3 bytes  110xxxxx …
    0x00200000 – 0x0FFFFFFF   4 bytes  1110xxxx …
    0x10000000 – 0xFFFFFFFF   5 bytes  11110000 followed by the length in four bytes

(librouteros stops at four bytes; the emulator answers whatever RouterOS would.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

ENCODING = "utf-8"
MAX_WORD_LENGTH = 0xFFFFFFFF


class WireError(ValueError):
    """Bytes that are not the RouterOS API's framing."""


def encode_length(length: int) -> bytes:
    if length < 0:
        raise WireError(f"a length cannot be negative: {length}")
    if length < 0x80:
        return length.to_bytes(1, "big")
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    if length <= MAX_WORD_LENGTH:
        return b"\xf0" + length.to_bytes(4, "big")
    raise WireError(f"a word cannot be {length} bytes long")


def length_size(first: int) -> int:
    """How many bytes a length takes, from its first byte."""
    if first < 0x80:
        return 1
    if first < 0xC0:
        return 2
    if first < 0xE0:
        return 3
    if first < 0xF0:
        return 4
    if first == 0xF0:
        return 5
    # 0xF8… are RouterOS's reserved control bytes, never a length.
    raise WireError(f"not a length's first byte: {first:#04x}")


def decode_length(data: bytes) -> int:
    """The length encoded at the start of `data` (which holds at least all of its bytes)."""
    size = length_size(data[0])
    if len(data) < size:
        raise WireError(f"a {size}-byte length cut short: {data!r}")
    if size == 5:
        return int.from_bytes(data[1:5], "big")
    masks = {1: 0x7F, 2: 0x3FFF, 3: 0x1FFFFF, 4: 0x0FFFFFFF}
    return int.from_bytes(data[:size], "big") & masks[size]


def encode_word(word: str | bytes) -> bytes:
    raw = word.encode(ENCODING) if isinstance(word, str) else word
    return encode_length(len(raw)) + raw


def encode_sentence(words: Iterable[str | bytes]) -> bytes:
    return b"".join(encode_word(word) for word in words) + b"\x00"


async def read_word(reader: asyncio.StreamReader, max_length: int = 1 << 24) -> str:
    """One word; "" for the empty word that ends a sentence. Raises IncompleteReadError at EOF."""
    head = await reader.readexactly(1)
    size = length_size(head[0])
    if size > 1:
        head += await reader.readexactly(size - 1)
    length = decode_length(head)
    if length > max_length:
        raise WireError(f"a word of {length} bytes is more than this peer accepts")
    if length == 0:
        return ""
    return (await reader.readexactly(length)).decode(ENCODING, errors="replace")


async def read_sentence(reader: asyncio.StreamReader) -> list[str]:
    """The words up to the empty word. An empty list is a stray empty word (RouterOS skips it)."""
    words: list[str] = []
    while word := await read_word(reader):
        words.append(word)
    return words
