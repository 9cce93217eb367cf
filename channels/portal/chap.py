"""MikroTik hotspot CHAP: the router hands its login page `$(chap-id)` and
`$(chap-challenge)` as octal-escaped bytes ("\\321\\005…"), and expects the password field
to carry the hex MD5 of chap-id + password + chap-challenge (RFC 1994's response)."""

from __future__ import annotations

import hashlib
import re

_OCTAL = re.compile(r"\\([0-7]{1,3})")


def decode_octal(escaped: str) -> bytes:
    """ "\\321\\005ab" → b"\\xd1\\x05ab": octal escapes become bytes, other characters
    stand for themselves (the router escapes every byte, but a literal is harmless)."""
    out = bytearray()
    position = 0
    for match in _OCTAL.finditer(escaped):
        out += escaped[position : match.start()].encode("latin-1", "replace")
        out.append(int(match.group(1), 8) & 0xFF)
        position = match.end()
    out += escaped[position:].encode("latin-1", "replace")
    return bytes(out)


def chap_response(chap_id: str, password: str, chap_challenge: str) -> str:
    """The value of the password field for a CHAP login, as the router checks it."""
    data = decode_octal(chap_id) + password.encode("utf-8") + decode_octal(chap_challenge)
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
