"""The RADIUS dictionary shipped with the package (`radius.dictionary`), read by pyrad."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pyrad.dictionary import Dictionary
from pyrad.packet import Packet

DICTIONARY_PATH = Path(__file__).with_name("radius.dictionary")

Attributes = Mapping[str, Any] | Iterable[tuple[str, Any]]


@functools.cache
def load_dictionary() -> Dictionary:
    return Dictionary(str(DICTIONARY_PATH))


def add_attributes(packet: Packet, attributes: Attributes) -> None:
    """Attributes by dictionary name; a list value, or a repeated pair, adds each value."""
    pairs = attributes.items() if isinstance(attributes, Mapping) else attributes
    for name, value in pairs:
        packet.AddAttribute(name, value)


def decoded(packet: Packet) -> dict[str, list[Any]]:
    """The packet's attributes by name (raw bytes under their number when unknown)."""
    result: dict[str, list[Any]] = {}
    for key in packet.keys():
        if key == "Message-Authenticator":
            continue
        result[str(key)] = list(packet[key])
    return result
