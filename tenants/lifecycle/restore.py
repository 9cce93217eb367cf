"""Restoration in the payment's own transaction: registered with billing's payment hooks.

When a payment arrives, and before it commits:
- a postpaid service suspended for an overdue invoice comes back once nothing is overdue
  past the grace period any more (the same rule that suspended it, so it cannot flap);
- a prepaid service that expired, or is pending its first payment, is renewed (activated)
  for a period starting when the money arrived, if the balance covers the price; several
  such services of one subscriber are served oldest first while the money lasts.
A service suspended by staff stays suspended: only staff lift that.

Billing never imports this module: the lifecycle's manifest (area.py) lists the hook.
"""

from __future__ import annotations

from datetime import timedelta

from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.billing import ledger
from kiunga.tenants.billing.invoices import amount_due
from kiunga.tenants.billing.models import Payment
from kiunga.tenants.catalog.models import BillingType, Package
from kiunga.tenants.lifecycle.run import LIFECYCLE
from kiunga.tenants.services.lifecycle import event_payload, start_period
from kiunga.tenants.services.models import Service, ServiceStatus, SuspensionReason
from kiunga.tenants.services.settings import billing_settings
from kiunga.tenants.services.subscriber_status import sync_subscriber_statuses
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload


async def restore_after_payment(session: AsyncSession, payment: Payment) -> None:
    now = payment.received_at
    waiting = list(
        await session.scalars(
            select(Service)
            .where(
                Service.subscriber_id == payment.subscriber_id,
                or_(
                    Service.status.in_((ServiceStatus.EXPIRED, ServiceStatus.PENDING)),
                    (Service.status == ServiceStatus.SUSPENDED)
                    & (Service.suspension_reason == SuspensionReason.OVERDUE.value),
                ),
            )
            .order_by(Service.id)
            .with_for_update()
        )
    )
    if not waiting:
        return
    changed = False
    settings = await billing_settings(session)
    cutoff = now - timedelta(days=settings.grace_days)
    for service in waiting:
        package = await session.get(Package, service.package_id, options=[raiseload(Package.sites)])
        if service.status is ServiceStatus.SUSPENDED:
            if await amount_due(session, service.subscriber_id, as_of=cutoff) > 0:
                continue
            service.status = ServiceStatus.ACTIVE
            service.suspended_at = service.suspension_reason = None
            await session.flush()
            await emit(session, "service.restored", event_payload(service, payment_id=payment.id))
            changed = True
            continue
        if package.billing_type is not BillingType.PREPAID or not package.is_active:
            continue
        if await ledger.balance(session, service.subscriber_id) < package.price:
            continue
        first = service.activated_at is None
        # A payment recorded late (received before the old period ended) never buys time
        # that overlaps the period already billed.
        start = max(now, service.expires_at) if service.expires_at else now
        invoice = await start_period(
            session, service, package, start=start, actor=LIFECYCLE, now=now
        )
        if first:
            service.activated_at = now
            await session.flush()
        topic = "service.activated" if first else "service.restored"
        await emit(
            session,
            topic,
            event_payload(service, payment_id=payment.id, invoice_id=invoice and invoice.id),
        )
        changed = True
    if changed:
        await sync_subscriber_statuses(
            session,
            [payment.subscriber_id],
            # Numbered when the payment's work is done: name it by its provider reference.
            reason=f"payment {payment.reference or payment.id} covered what was due",
            actor=LIFECYCLE,
        )
