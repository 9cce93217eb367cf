"""Subscribers: the people and businesses an ISP serves.

Every function takes the tenant session explicitly and only flushes: the caller's unit of
work commits. `reseller_id`, when given, confines a call to that reseller's subscribers
(a reseller's API key): anyone else's subscriber is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.auth.fence import Fence
from kiunga.platform.errors import Kind, NotFoundError
from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.actors import Actor
from kiunga.tenants.sites.models import Site
from kiunga.tenants.subscribers import validation as check
from kiunga.tenants.subscribers.accounts import new_account_number
from kiunga.tenants.subscribers.models import (
    Reseller,
    Subscriber,
    SubscriberPhone,
    SubscriberStatus,
)
from kiunga.tenants.subscribers.status import change_row, set_status, status_history
from kiunga.tenants.subscribers.validation import SubscriberError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "SubscriberError",
    "DuplicateAccountNumber",
    "SubscriberNotFound",
    "SubscriberFields",
    "create_subscriber",
    "update_subscriber",
    "get_subscriber",
    "set_status",
    "status_history",
]

_UNSET = object()


class DuplicateAccountNumber(SubscriberError):
    kind = Kind.CONFLICT


class SubscriberNotFound(NotFoundError):
    pass


@dataclass(slots=True)
class SubscriberFields:
    """What a caller may set. On update, fields left at UNSET stay as they are."""

    name: object = _UNSET
    account_number: object = _UNSET
    phones: object = _UNSET
    email: object = _UNSET
    region: object = _UNSET
    branch: object = _UNSET
    site_id: object = _UNSET
    address: object = _UNSET
    unit: object = _UNSET
    latitude: object = _UNSET
    longitude: object = _UNSET
    notes: object = _UNSET
    language: object = _UNSET
    reseller_id: object = _UNSET

    def given(self) -> dict[str, object]:
        return {
            name: value for name in self.__slots__ if (value := getattr(self, name)) is not _UNSET
        }


async def _exists(session: AsyncSession, model, id_value: int) -> bool:
    return await session.scalar(select(model.id).where(model.id == id_value)) is not None


async def cleaned_values(session: AsyncSession, given: dict[str, object]) -> dict[str, object]:
    """Every given field checked and normalised; SubscriberError on the first bad one."""
    values: dict[str, object] = {}
    if "name" in given:
        values["name"] = check.text("name", given["name"], required=True)
    for name in ("region", "branch", "unit"):
        if name in given:
            values[name] = check.text(name, given[name])
    for name in ("address", "notes"):
        if name in given:
            values[name] = (given[name] or "").strip()
    if "email" in given:
        values["email"] = check.email(given["email"])
    if given.get("account_number"):
        values["account_number"] = check.account_number(given["account_number"])
    if "phones" in given:
        values["phones"] = check.phones(list(given["phones"] or []))
    if "language" in given:
        values["language"] = check.language(given["language"] or "en")
    if "latitude" in given or "longitude" in given:
        values["latitude"], values["longitude"] = check.gps(
            given.get("latitude"), given.get("longitude")
        )
    site_id = given.get("site_id")
    if site_id is not None and not await _exists(session, Site, site_id):
        raise SubscriberError("site_id", f"no site with id {site_id}")
    if "site_id" in given:
        values["site_id"] = site_id
    reseller_id = given.get("reseller_id")
    if reseller_id is not None and not await _exists(session, Reseller, reseller_id):
        raise SubscriberError("reseller_id", f"no reseller with id {reseller_id}")
    if "reseller_id" in given:
        values["reseller_id"] = reseller_id
    return values


async def _account_taken(session: AsyncSession, account: str, except_id: int | None) -> bool:
    query = select(Subscriber.id).where(Subscriber.account_number == account)
    if except_id is not None:
        query = query.where(Subscriber.id != except_id)
    return await session.scalar(query) is not None


def _set_phones(subscriber: Subscriber, numbers: list[str]) -> None:
    kept = {phone.phone: phone for phone in subscriber.phones}
    subscriber.phones = [kept.get(number) or SubscriberPhone(phone=number) for number in numbers]
    for index, phone in enumerate(subscriber.phones):
        phone.is_primary = index == 0


async def _flush_unique(session: AsyncSession, subscriber: Subscriber) -> None:
    # A savepoint: a lost race on the account number becomes a clear 409 and leaves the
    # caller's transaction usable.
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise DuplicateAccountNumber(
            "account_number", f"account number {subscriber.account_number} is taken"
        ) from exc


async def create_subscriber(
    session: AsyncSession,
    data: SubscriberFields,
    *,
    actor: Actor,
    status: SubscriberStatus | str = SubscriberStatus.LEAD,
    reseller_id: int | None = None,
) -> Subscriber:
    """A new subscriber. With `reseller_id` (a reseller's key) it belongs to that reseller
    whatever the input says."""
    given = data.given()
    if reseller_id is not None:
        given["reseller_id"] = reseller_id
    given.setdefault("name", "")
    values = await cleaned_values(session, given)
    initial = check.status(status)
    account = values.pop("account_number", None)
    if account is None:
        account = await new_account_number(session)
    elif await _account_taken(session, str(account), None):
        raise DuplicateAccountNumber("account_number", f"account number {account} is taken")
    numbers = values.pop("phones", [])
    subscriber = Subscriber(account_number=account, status=initial, phones=[], **values)
    _set_phones(subscriber, numbers)
    session.add(subscriber)
    try:
        await _flush_unique(session, subscriber)
    except DuplicateAccountNumber:
        session.expunge(subscriber)
        raise
    session.add(change_row(subscriber.id, None, initial, "created", actor))
    await session.flush()
    await session.refresh(subscriber)
    await emit(session, "subscriber.created", {"subscriber_id": subscriber.id})
    return subscriber


async def get_subscriber(
    session: AsyncSession, subscriber_id: int, *, reseller_id: int | None = None
) -> Subscriber:
    subscriber = await session.get(Subscriber, subscriber_id)
    if subscriber is None or not Fence(reseller_id).admits(subscriber.reseller_id):
        raise SubscriberNotFound(f"no subscriber with id {subscriber_id}")
    return subscriber


async def update_subscriber(
    session: AsyncSession,
    subscriber_id: int,
    data: SubscriberFields,
    *,
    reseller_id: int | None = None,
) -> Subscriber:
    subscriber = await get_subscriber(session, subscriber_id, reseller_id=reseller_id)
    given = data.given()
    if reseller_id is not None:
        given.pop("reseller_id", None)  # a reseller cannot hand a subscriber to another
    values = await cleaned_values(session, given)
    account = values.get("account_number")
    if account and await _account_taken(session, str(account), subscriber.id):
        raise DuplicateAccountNumber("account_number", f"account number {account} is taken")
    if "phones" in values:
        _set_phones(subscriber, values.pop("phones"))
    for name, value in values.items():
        setattr(subscriber, name, value)
    await _flush_unique(session, subscriber)
    await session.refresh(subscriber)
    return subscriber


async def count_subscribers(session: AsyncSession) -> int:
    query = select(func.count()).select_from(Subscriber)
    return await session.scalar(query.where(Subscriber.status == SubscriberStatus.ACTIVE)) or 0


async def find_by_account(session: AsyncSession, account_number: str) -> Subscriber | None:
    account = "".join((account_number or "").split()).upper()
    return await session.scalar(select(Subscriber).where(Subscriber.account_number == account))
