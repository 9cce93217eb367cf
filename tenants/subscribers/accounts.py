"""Account numbers: what a subscriber types as the M-Pesa account (Paybill "account no.").

Generated ones are seven digits: digits are the easiest thing to type on a phone keypad,
and seven of them leave nine million numbers per ISP, so a random pick rarely collides and
does not reveal how many subscribers an ISP has. Operators may bring their own (3–12 of
A–Z and 0–9, stored upper case), for example the numbers of the system they move from.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

ACCOUNT_PATTERN = re.compile(r"^[A-Z0-9]{3,12}$")
GENERATED_DIGITS = 7


class InvalidAccountNumber(ValueError):
    pass


def clean_account_number(raw: str) -> str:
    account = "".join((raw or "").split()).upper()
    if not ACCOUNT_PATTERN.match(account):
        raise InvalidAccountNumber("account number must be 3 to 12 letters A-Z or digits")
    return account


def random_account_number() -> str:
    low = 10 ** (GENERATED_DIGITS - 1)  # no leading zero: spreadsheets would drop it
    return str(low + secrets.randbelow(9 * low))


def fresh_account_numbers(count: int, taken: Iterable[str]) -> list[str]:
    """`count` distinct generated numbers, none of them in `taken`."""
    avoid = set(taken)
    numbers: list[str] = []
    while len(numbers) < count:
        candidate = random_account_number()
        if candidate not in avoid:
            avoid.add(candidate)
            numbers.append(candidate)
    return numbers


async def existing_accounts(session: AsyncSession, accounts: Iterable[str]) -> set[str]:
    wanted = list(set(accounts))
    if not wanted:
        return set()
    query = select(Subscriber.account_number).where(Subscriber.account_number.in_(wanted))
    return set(await session.scalars(query))


async def new_account_number(session: AsyncSession) -> str:
    while True:
        candidate = random_account_number()
        if not await existing_accounts(session, [candidate]):
            return candidate
