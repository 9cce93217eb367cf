"""The word-length encoding at each boundary, and long words across a real connection."""

from __future__ import annotations

import asyncio

import librouteros
import pytest
from kiunga.integrations.routeros.wire import (
    WireError,
    decode_length,
    encode_length,
    encode_sentence,
    length_size,
    read_sentence,
)
from librouteros.protocol import encode_length as librouteros_encode_length

BOUNDARIES = [
    (0, b"\x00"),
    (0x7F, b"\x7f"),
    (0x80, b"\x80\x80"),
    (0x3FFF, b"\xbf\xff"),
    (0x4000, b"\xc0\x40\x00"),
    (0x1FFFFF, b"\xdf\xff\xff"),
    (0x200000, b"\xe0\x20\x00\x00"),
    (0xFFFFFFF, b"\xef\xff\xff\xff"),
    (0x10000000, b"\xf0\x10\x00\x00\x00"),
    (0xFFFFFFFF, b"\xf0\xff\xff\xff\xff"),
]


@pytest.mark.parametrize(("length", "encoded"), BOUNDARIES)
def test_lengths_encode_and_decode_at_each_boundary(length, encoded):
    assert encode_length(length) == encoded
    assert length_size(encoded[0]) == len(encoded)
    assert decode_length(encoded) == length


@pytest.mark.parametrize(("length", "encoded"), [b for b in BOUNDARIES if b[0] < 0x10000000])
def test_up_to_four_bytes_the_encoding_is_librouteros_own(length, encoded):
    assert librouteros_encode_length(length) == encoded


def test_what_is_not_a_length_is_refused():
    with pytest.raises(WireError):
        encode_length(0x100000000)
    with pytest.raises(WireError):
        length_size(0xF8)  # a control byte
    with pytest.raises(WireError):
        decode_length(b"\xc0\x40")  # three bytes announced, two given


async def test_sentences_read_back_from_a_stream_word_for_word():
    words = ["/ppp/secret/add", "=name=" + "x" * 0x4000, "=comment=" + "é" * 70, "=a="]
    reader = asyncio.StreamReader()
    reader.feed_data(b"\x00" + encode_sentence(words))  # a stray empty word first
    reader.feed_eof()
    assert await read_sentence(reader) == []
    assert await read_sentence(reader) == words


async def test_a_word_needing_a_three_byte_length_crosses_the_connection(router):
    api = await librouteros.async_connect(
        router.host, "admin", "s3cret-api", port=router.port, encoding="utf-8"
    )
    try:
        comment = "k" * 0x4100
        queues = api.path("queue", "simple")
        await queues.add(name="long", target="10.0.0.1/32", comment=comment)
        rows = [row async for row in queues]
        assert rows[0]["comment"] == comment
    finally:
        await api.close()
