"""What the payment.received event tells about service, for the receipt the channels send:
the latest expiry of the subscriber's live services after the payment (and its restore).
Listed in the M-Pesa manifest (area.py) as a payment facts provider."""

from __future__ import annotations

from kiunga.tenants.billing.models import Payment
from kiunga.tenants.services.models import Service, ServiceStatus
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def service_expiry(session: AsyncSession, payment: Payment) -> dict:
    expires_at = await session.scalar(
        select(func.max(Service.expires_at)).where(
            Service.subscriber_id == payment.subscriber_id,
            Service.status == ServiceStatus.ACTIVE,
        )
    )
    return {"expires_at": expires_at.isoformat() if expires_at else None}
