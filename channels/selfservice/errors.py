"""The refusals of self-service: a DomainError naming the input at fault, with a message
fit to show the subscriber (the channels translate by `field` and `kind` where they can)."""

from __future__ import annotations

from kiunga.platform.errors import DomainError, Kind, NotFoundError
from kiunga.platform.web.inputs import MAX_ID
from kiunga.tenants.actors import Actor


class SelfServiceError(DomainError, ValueError):
    kind = Kind.INVALID


class NotYours(NotFoundError):
    """No such record among this subscriber's own: another subscriber's (or another ISP's)
    ticket, service or device is simply not found."""


def subscriber_actor(phone: str, channel: str = "selfcare") -> Actor:
    """Who acted, for the ledger, the tickets and the status history: the subscriber, by
    the phone they used and the channel (`ussd:+2547…`, `selfcare:+2547…`)."""
    return Actor("subscriber", f"{channel}:{phone}"[:120])


def record_id(value: object, field: str) -> int:
    """An id the subscriber chose (a form field, a menu's answer): a whole number within
    the ids' bounds, else NotYours: nothing of theirs has it (and it never reaches
    PostgreSQL, where a number beyond bigint would fail as a server error)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise NotYours(f"no such {field.removesuffix('_id')} of yours", field=field)
    return value
