"""Checking a staff password without holding the database or the machine hostage.

argon2 is slow and memory-hungry on purpose (tens of milliseconds, 64 MiB a check). A
flood of sign-ins must neither keep pooled database connections busy while it hashes
(every other request would wait for a connection) nor run unbounded hashes at once
(memory): the stored hash is read in a short session that is closed before hashing, and
hashing goes through a per-process gate with a few slots and a short queue. A sign-in the
gate cannot take in time is answered "busy" (HashingBusy), never with an error.
"""

from __future__ import annotations

import asyncio
import os
from functools import lru_cache

import anyio
from kiunga.platform.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.auth.sessions import load_staff_principal, normalise_email
from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import Database
from kiunga.platform.models import StaffAccount
from sqlalchemy import select, update

# Sign-ins waiting for a hashing slot beyond which the next is turned away at once.
MAX_WAITING = 32
WAIT_SECONDS = 10.0


class HashingBusy(Exception):
    """Too many password checks under way in this process: try again shortly."""


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    # Checked when the email is unknown, so that the answer takes as long either way.
    return hash_password("decoy password that no account has")


class PasswordGate:
    """At most `slots` argon2 computations at once in this process, `max_waiting` queued
    for at most `wait_seconds`; beyond that HashingBusy."""

    def __init__(
        self,
        slots: int | None = None,
        *,
        max_waiting: int = MAX_WAITING,
        wait_seconds: float = WAIT_SECONDS,
    ):
        # One core is left to the event loop, which answers every other request.
        self.slots = slots or max(1, min((os.cpu_count() or 2) - 1, 4))
        self.max_waiting = max_waiting
        self.wait_seconds = wait_seconds
        self._semaphore = asyncio.Semaphore(self.slots)
        self._waiting = 0

    async def run(self, function, *args):
        """`function(*args)` in a worker thread once a slot is free."""
        if self._waiting >= self.max_waiting:
            raise HashingBusy
        self._waiting += 1
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self._semaphore.acquire()
        except TimeoutError:
            raise HashingBusy from None
        finally:
            self._waiting -= 1
        try:
            return await anyio.to_thread.run_sync(function, *args)
        finally:
            self._semaphore.release()


async def authenticate_staff(
    database: Database,
    gate: PasswordGate,
    *,
    email: str,
    password: str,
    tenant_id: int | None,
) -> StaffPrincipal | None:
    """Check the password and that the account may work at `tenant_id` (None: platform).

    Returns None for every kind of failure alike, so callers cannot tell an unknown email
    from a wrong password; HashingBusy when the password could not be checked now. Stamps
    the last login on success. No database connection is held while hashing.
    """
    email = normalise_email(email)
    if not email or not password or len(password) > MAX_PASSWORD_LENGTH:
        return None
    async with database.platform_session() as session:
        found = (
            await session.execute(
                select(StaffAccount.id, StaffAccount.password_hash).where(
                    StaffAccount.email == email
                )
            )
        ).first()
    stored = found.password_hash if found is not None else _decoy_hash()
    password_ok = await gate.run(verify_password, stored, password)
    if found is None or not password_ok:
        return None
    rehashed = await gate.run(hash_password, password) if needs_rehash(stored) else None
    async with database.platform_session() as session:
        principal = await load_staff_principal(session, found.id, tenant_id)
        if principal is None:
            return None
        changes = {"last_login_at": utcnow()}
        if rehashed is not None:
            changes["password_hash"] = rehashed
        # Only while the hash is still the one checked: a password changed meanwhile wins.
        stamped = await session.execute(
            update(StaffAccount)
            .where(StaffAccount.id == found.id, StaffAccount.password_hash == stored)
            .values(**changes)
        )
        await session.commit()
    return principal if stamped.rowcount == 1 else None
