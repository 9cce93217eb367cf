"""What the RADIUS server needs from the rest of Kiunga, as small `Protocol`s, and the values
that cross them.

The server answers thousands of requests a second, so `ClientDirectory.lookup` and
`Authorizer.authorize` are plain (not async) calls made on the hot path: they must answer
from memory (a cache the tenant layer keeps fresh in the background) and never wait on a
database or the network; only for a login the memory has not heard of yet may `authorize`
hand back a future of its decision. `AccountingSink.accept` is async: an
Accounting-Response is sent only once the sink has taken the record.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from kiunga.integrations.radius.replies import accept_attributes


@dataclass(frozen=True, slots=True)
class RadiusClient:
    """A NAS (router) allowed to talk to the server, found by its source address."""

    secret: bytes = field(repr=False)
    tenant_key: str
    router_id: str
    # Refuse Access-Requests without a valid Message-Authenticator (BlastRADIUS, RFC 3579).
    require_message_authenticator: bool = False


class RejectReason(enum.Enum):
    """Why an Access-Request is refused; the value is the Reply-Message the NAS receives."""

    UNKNOWN_USER = "Unknown user"
    WRONG_PASSWORD = "Wrong password"
    EXPIRED = "Subscription expired"
    SUSPENDED = "Account suspended"
    DATA_USED_UP = "Data bundle used up"
    NOT_ALLOWED = "Not allowed on this router"
    UNSUPPORTED_METHOD = "Authentication method not supported"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refusal decided before the password is looked at.

    With `password` set, the server checks it first and answers "Wrong password" on a
    mismatch: only someone who knows the password learns the account is expired or
    suspended.
    """

    reason: RejectReason
    # Overrides the reason's default Reply-Message (at most 253 octets in UTF-8).
    message: str | None = None
    password: bytes | None = field(default=None, repr=False)

    @property
    def reply_message(self) -> str:
        return self.message if self.message is not None else self.reason.value


@dataclass(frozen=True, slots=True)
class Authorization:
    """A subscriber the NAS may admit once the password checks, and what to tell the NAS.

    `password` is the subscriber's cleartext password (PAP and CHAP both need it).
    `total_limit_bytes` becomes Mikrotik-Total-Limit, with Mikrotik-Total-Limit-Gigawords
    for the part above 4 GiB.
    """

    password: bytes = field(repr=False)
    rate_limit: str | None = None  # Mikrotik-Rate-Limit, e.g. "10M/10M"
    session_timeout: int | None = None  # seconds
    total_limit_bytes: int | None = None
    framed_ip: str | None = None  # Framed-IP-Address
    address_list: str | None = None  # Mikrotik-Address-List
    group: str | None = None  # Mikrotik-Group
    idle_timeout: int | None = None
    acct_interim_interval: int | None = None
    reply_message: str | None = None
    # Called once the password checked and the Access-Accept is sent (e.g. to note a first
    # login); it must not block: the answer is on its way.
    on_accept: Callable[[], None] | None = field(default=None, repr=False, compare=False)
    # The Access-Accept's attributes, encoded here once rather than per request; a value
    # that cannot be sent (an address that is not IPv4, a number over 32 bits…) fails here.
    wire_attributes: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "wire_attributes", accept_attributes(self))


@runtime_checkable
class ClientDirectory(Protocol):
    def lookup(self, source_ip: str) -> RadiusClient | None:
        """The NAS sending from this address, or None (the packet is dropped unanswered)."""
        ...


@runtime_checkable
class Authorizer(Protocol):
    def authorize(
        self, client: RadiusClient, username: str, calling_station_id: str | None = None
    ) -> Authorization | Rejection:
        """From memory only: this runs for every Access-Request. `calling_station_id` is the
        device asking (a hotspot sends its MAC address), for logins bound to one device or
        limited in how many may be logged in at once.

        A login the memory does not know yet may instead be answered by an
        `asyncio.Future` of the decision (looked up off the hot path); the request is
        answered when it is done."""
        ...


class AcctStatus(enum.IntEnum):
    START = 1
    STOP = 2
    INTERIM_UPDATE = 3
    ACCOUNTING_ON = 7
    ACCOUNTING_OFF = 8


@dataclass(frozen=True, slots=True)
class AccountingRecord:
    """One Accounting-Request, decoded. Octet totals already include the gigawords."""

    tenant_key: str
    router_id: str
    nas_address: str  # where the packet came from
    status: AcctStatus
    session_id: str | None
    username: str | None
    nas_ip: str | None
    nas_identifier: str | None
    framed_ip: str | None
    calling_station_id: str | None
    session_time: int | None  # seconds
    input_octets: int | None
    output_octets: int | None
    input_packets: int | None
    output_packets: int | None
    terminate_cause: int | None
    event_time: datetime | None  # Event-Timestamp, UTC
    delay_time: int | None  # Acct-Delay-Time, seconds
    received_at: datetime

    @property
    def terminate_cause_name(self) -> str | None:
        if self.terminate_cause is None:
            return None
        return TERMINATE_CAUSES.get(self.terminate_cause, str(self.terminate_cause))


TERMINATE_CAUSES = {
    1: "User-Request",
    2: "Lost-Carrier",
    3: "Lost-Service",
    4: "Idle-Timeout",
    5: "Session-Timeout",
    6: "Admin-Reset",
    7: "Admin-Reboot",
    8: "Port-Error",
    9: "NAS-Error",
    10: "NAS-Request",
    11: "NAS-Reboot",
    12: "Port-Unneeded",
    13: "Port-Preempted",
    14: "Port-Suspended",
    15: "Service-Unavailable",
    16: "Callback",
    17: "User-Error",
    18: "Host-Request",
}


@runtime_checkable
class AccountingSink(Protocol):
    async def accept(self, record: AccountingRecord) -> bool:
        """True once the record is taken (stored, or queued if the sink accepts that risk):
        the NAS is then answered and forgets it. False: not answered, the NAS retries."""
        ...
