"""The tenant's billing settings: one row, or the defaults when staff never changed them."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.tenants.services.models import DEFAULT_SETTINGS, BillingSettings
from sqlalchemy.ext.asyncio import AsyncSession

_CACHE_KEY = "billing_settings"


@dataclass(frozen=True, slots=True)
class TenantBillingSettings:
    grace_days: int
    reminder_days_before: int
    postpaid_due_days: int


async def billing_settings(session: AsyncSession) -> TenantBillingSettings:
    """Read once per session (a lifecycle run asks for them many times)."""
    cached = session.info.get(_CACHE_KEY)
    if cached is None:
        row = await session.get(BillingSettings, 1)
        values = {key: getattr(row, key) for key in DEFAULT_SETTINGS} if row else DEFAULT_SETTINGS
        cached = session.info[_CACHE_KEY] = TenantBillingSettings(**values)
    return cached


async def update_billing_settings(session: AsyncSession, **changes: int) -> TenantBillingSettings:
    for key, value in changes.items():
        if key not in DEFAULT_SETTINGS:
            raise ValueError(f"unknown billing setting {key!r}")
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 365:
            raise ValueError(f"{key} must be a whole number of days from 0 to 365")
    row = await session.get(BillingSettings, 1)
    if row is None:
        row = BillingSettings(id=1, **DEFAULT_SETTINGS)
        session.add(row)
    for key, value in changes.items():
        setattr(row, key, value)
    await session.flush()
    session.info.pop(_CACHE_KEY, None)
    return await billing_settings(session)
