"""RADIUS on the wire, for the server's hot path: split a datagram into attributes, check
its authenticators, decrypt PAP, check CHAP, and sign replies.

pyrad does the same work (and this module is tested against it), but builds a dictionary-
aware object per packet; at thousands of requests a second that object is most of the cost.
Here a request is read once into a small dict of the attributes the server uses, and reply
attributes are encoded once per authorization and reused.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

# Packet codes (RFC 2865, 2866, 5176).
ACCESS_REQUEST = 1
ACCESS_ACCEPT = 2
ACCESS_REJECT = 3
ACCOUNTING_REQUEST = 4
ACCOUNTING_RESPONSE = 5
STATUS_SERVER = 12
DISCONNECT_REQUEST = 40
DISCONNECT_ACK = 41
DISCONNECT_NAK = 42
COA_REQUEST = 43
COA_ACK = 44
COA_NAK = 45

# Attribute numbers (the dictionary file names them; a test checks they agree).
USER_NAME = 1
USER_PASSWORD = 2
CHAP_PASSWORD = 3
NAS_IP_ADDRESS = 4
FRAMED_IP_ADDRESS = 8
REPLY_MESSAGE = 18
VENDOR_SPECIFIC = 26
SESSION_TIMEOUT = 27
IDLE_TIMEOUT = 28
CALLING_STATION_ID = 31
NAS_IDENTIFIER = 32
PROXY_STATE = 33
ACCT_STATUS_TYPE = 40
ACCT_DELAY_TIME = 41
ACCT_INPUT_OCTETS = 42
ACCT_OUTPUT_OCTETS = 43
ACCT_SESSION_ID = 44
ACCT_SESSION_TIME = 46
ACCT_INPUT_PACKETS = 47
ACCT_OUTPUT_PACKETS = 48
ACCT_TERMINATE_CAUSE = 49
ACCT_INPUT_GIGAWORDS = 52
ACCT_OUTPUT_GIGAWORDS = 53
EVENT_TIMESTAMP = 55
CHAP_CHALLENGE = 60
EAP_MESSAGE = 79
MESSAGE_AUTHENTICATOR = 80
ACCT_INTERIM_INTERVAL = 85
ERROR_CAUSE = 101

MIKROTIK = 14988
MIKROTIK_GROUP = 3
MIKROTIK_RATE_LIMIT = 8
MIKROTIK_TOTAL_LIMIT = 17
MIKROTIK_TOTAL_LIMIT_GIGAWORDS = 18
MIKROTIK_ADDRESS_LIST = 19

HEADER = 20
# RFC 2865 allows 4096 octets; RFC 7930 more over TCP only.
MAX_PACKET = 4096
MAX_VALUE = 253
_ZERO16 = bytes(16)
_MA_ZEROED = bytes((MESSAGE_AUTHENTICATOR, 18)) + _ZERO16
_md5 = hashlib.md5
_compare = hmac.compare_digest


class Malformed(Exception):
    """The datagram is not a RADIUS packet this server can read; it is dropped."""


def header(data: bytes) -> tuple[int, int, bytes]:
    """(code, length, data trimmed to its Length field) after checking the header."""
    received = len(data)
    if received < HEADER:
        raise Malformed("shorter than a RADIUS header")
    length = (data[2] << 8) | data[3]
    if length < HEADER or length > received or length > MAX_PACKET:
        raise Malformed(f"Length field {length} with {received} octets received")
    # RFC 2865 section 3: octets past the Length field are padding.
    return data[0], length, data if length == received else data[:length]


def parse_attributes(data: bytes) -> tuple[dict[int, bytes], int, list[bytes] | None]:
    """The first value of each attribute, where the Message-Authenticator's value starts
    (0 if absent), and the Proxy-State values in order (they go back in the reply)."""
    attributes: dict[int, bytes] = {}
    proxy_states = None
    ma_at = 0
    at = HEADER
    end = len(data)
    while at < end:
        if at + 2 > end:
            raise Malformed("attribute header cut short")
        kind = data[at]
        size = data[at + 1]
        if size < 2 or at + size > end:
            raise Malformed(f"attribute {kind} with length {size}")
        if kind == MESSAGE_AUTHENTICATOR:
            if size != 18 or ma_at:
                raise Malformed("Message-Authenticator of the wrong size, or twice")
            ma_at = at + 2
        elif kind == PROXY_STATE:
            if proxy_states is None:
                proxy_states = []
            proxy_states.append(data[at + 2 : at + size])
        elif kind not in attributes:
            attributes[kind] = data[at + 2 : at + size]
        at += size
    return attributes, ma_at, proxy_states


class Keys:
    """What each packet of a secret reuses: MD5 already fed with the secret (PAP) and the
    HMAC-MD5 inner and outer states (Message-Authenticator), so a packet pays for its own
    octets only."""

    __slots__ = ("secret", "md5_secret", "hmac_inner", "hmac_outer")

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.md5_secret = _md5(secret)
        block = _md5(secret).digest() if len(secret) > 64 else secret
        block = block.ljust(64, b"\0")
        self.hmac_inner = _md5(bytes(octet ^ 0x36 for octet in block))
        self.hmac_outer = _md5(bytes(octet ^ 0x5C for octet in block))

    def hmac(self, message: bytes) -> bytes:
        inner = self.hmac_inner.copy()
        inner.update(message)
        outer = self.hmac_outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_keys: dict[bytes, Keys] = {}


def keys_for(secret: bytes) -> Keys:
    keys = _keys.get(secret)
    if keys is None:
        if len(_keys) > 100_000:
            _keys.clear()
        keys = _keys[secret] = Keys(secret)
    return keys


def message_authenticator_ok(data: bytes, ma_at: int, secret: bytes, vector: bytes) -> bool:
    """HMAC-MD5 over the packet with the Message-Authenticator zeroed (RFC 3579 3.2).

    `vector` is what stands in the Authenticator field: the packet's own for an
    Access-Request, zeros for Accounting-, CoA- and Disconnect-Requests.
    """
    signed = data[:4] + vector + data[HEADER:ma_at] + _ZERO16 + data[ma_at + 16 :]
    return _compare(keys_for(secret).hmac(signed), data[ma_at : ma_at + 16])


def request_authenticator_ok(data: bytes, secret: bytes) -> bool:
    """Accounting-, CoA- and Disconnect-Requests: MD5(packet, zero authenticator, secret)."""
    expected = _md5(data[:4] + _ZERO16 + data[HEADER:] + secret).digest()
    return _compare(expected, data[4:HEADER])


def pap_decrypt(secret: bytes, authenticator: bytes, cipher: bytes) -> bytes | None:
    """User-Password in the clear (RFC 2865 5.2), or None when the padding after the
    password is not zeros: the NAS used another secret."""
    size = len(cipher)
    if size == 0 or size % 16 or size > 128:
        raise Malformed(f"User-Password of {size} octets")
    base = keys_for(secret).md5_secret
    pad = base.copy()
    pad.update(authenticator)
    if size == 16:  # the usual case, without the loop
        plain = (int.from_bytes(cipher) ^ int.from_bytes(pad.digest())).to_bytes(16)
    else:
        parts = []
        previous = authenticator
        for at in range(0, size, 16):
            block = cipher[at : at + 16]
            pad = base.copy()
            pad.update(previous)
            parts.append((int.from_bytes(block) ^ int.from_bytes(pad.digest())).to_bytes(16))
            previous = block
        plain = b"".join(parts)
    end = plain.find(0)
    if end < 0:
        return plain
    if plain.count(0, end) != size - end:
        return None
    return plain[:end]


def pap_encrypt(secret: bytes, authenticator: bytes, password: bytes) -> bytes:
    """What a NAS sends; for tests and the benchmark's request files."""
    padded = password.ljust(max(16, -(-len(password) // 16) * 16), b"\0")
    previous = authenticator
    cipher = bytearray()
    for at in range(0, len(padded), 16):
        pad = _md5(secret + previous).digest()
        block = (int.from_bytes(padded[at : at + 16]) ^ int.from_bytes(pad)).to_bytes(16)
        cipher += block
        previous = block
    return bytes(cipher)


def chap_ok(chap_password: bytes, challenge: bytes, password: bytes) -> bool:
    """CHAP-Password is the CHAP id and MD5(id, password, challenge) (RFC 2865 5.3)."""
    if len(chap_password) != 17:
        raise Malformed(f"CHAP-Password of {len(chap_password)} octets")
    expected = _md5(chap_password[:1] + password + challenge).digest()
    return _compare(expected, chap_password[1:])


def sign_reply(
    code: int, identifier: int, request_authenticator: bytes, attributes: bytes, secret: bytes
) -> bytes:
    """A reply with a Message-Authenticator first (BlastRADIUS) and its Response
    Authenticator: MD5(code, id, length, request authenticator, attributes, secret)."""
    length = HEADER + 18 + len(attributes)
    if length > MAX_PACKET:
        raise ValueError(f"reply of {length} octets")
    head = bytes((code, identifier, length >> 8, length & 0xFF))
    mac = keys_for(secret).hmac(head + request_authenticator + _MA_ZEROED + attributes)
    body = b"\x50\x12" + mac + attributes
    return head + _md5(head + request_authenticator + body + secret).digest() + body


def sign_response(
    code: int, identifier: int, request_authenticator: bytes, attributes: bytes, secret: bytes
) -> bytes:
    """A reply without Message-Authenticator (Accounting-Response)."""
    length = HEADER + len(attributes)
    head = bytes((code, identifier, length >> 8, length & 0xFF))
    return head + _md5(head + request_authenticator + attributes + secret).digest() + attributes


def sign_request(code: int, identifier: int, attributes: bytes, secret: bytes) -> bytes:
    """An Accounting-, CoA- or Disconnect-Request (authenticator over zeros)."""
    length = HEADER + len(attributes)
    head = bytes((code, identifier, length >> 8, length & 0xFF))
    return head + _md5(head + _ZERO16 + attributes + secret).digest() + attributes


# --- encoding ---------------------------------------------------------------------------


def attribute(kind: int, value: bytes) -> bytes:
    if len(value) > MAX_VALUE:
        raise ValueError(f"attribute {kind}: {len(value)} octets, at most {MAX_VALUE}")
    return bytes((kind, len(value) + 2)) + value


def vendor_attribute(vendor: int, kind: int, value: bytes) -> bytes:
    if len(value) > MAX_VALUE - 6:
        raise ValueError(f"vendor attribute {vendor}/{kind}: {len(value)} octets")
    inner = bytes((kind, len(value) + 2)) + value
    return bytes((VENDOR_SPECIFIC, len(inner) + 6)) + vendor.to_bytes(4) + inner


def integer(value: int) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{value} does not fit a RADIUS integer")
    return value.to_bytes(4)


def ipv4(value: str) -> bytes:
    return ipaddress.IPv4Address(value).packed


def text(value: str) -> bytes:
    return value.encode()


def read_integer(value: bytes) -> int:
    if len(value) != 4:
        raise Malformed(f"integer of {len(value)} octets")
    return int.from_bytes(value)


def read_ipv4(value: bytes) -> str:
    if len(value) != 4:
        raise Malformed(f"IPv4 address of {len(value)} octets")
    return f"{value[0]}.{value[1]}.{value[2]}.{value[3]}"


def read_text(value: bytes) -> str:
    return value.decode("utf-8", "replace")
