"""A portal purchase paid: the payment hook that bills the package, issues the voucher,
redeems it for the device that asked and queues the SMS with its code.

It runs in the payment's own transaction (billing's payment hooks), so the money, the
invoice, the voucher, its sale, its service and the `voucher.issued` event commit together
or not at all. The STK callback runs it in the web process and the settle job (STK Query)
in the worker: the vouchers' manifest (area.py) lists it, for both.

The payment does not know its STK request yet when hooks run (intake links them after
billing returns); its reference does: the M-Pesa receipt, whose transaction row names the
request, or "STK-<CheckoutRequestID>" for a payment settled by STK Query.

Exactly once: the purchase row is locked and must not have a voucher yet; a repeated
callback is a repeat payment, for which billing runs no hooks at all.
"""

from __future__ import annotations

import structlog
from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.billing.invoices import InvoiceLineInput, issue_invoice
from kiunga.tenants.billing.models import Payment, PaymentMethod
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.mpesa.models import MpesaRequest, MpesaTransaction, RequestStatus
from kiunga.tenants.subscribers.models import Language, Subscriber
from kiunga.tenants.vouchers.buyers import PORTAL, buyer_language, buyer_subscriber
from kiunga.tenants.vouchers.codes import DEFAULT_ALPHABET, random_codes
from kiunga.tenants.vouchers.models import (
    HotspotPurchase,
    PurchaseStatus,
    SaleChannel,
    Voucher,
    VoucherBatch,
    VoucherStatus,
)
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger("kiunga.vouchers")

PORTAL_BATCH = "Portal sales"
# Typed by hand on another device when the automatic login fails: short, still
# 31^8 ≈ 8.5·10^11 possibilities.
PORTAL_CODE_LENGTH = 8
ISSUED = "voucher.issued"
STK_REFERENCE = "STK-"


async def _request_id_of(session: AsyncSession, payment: Payment) -> int | None:
    reference = payment.reference or ""
    if reference.startswith(STK_REFERENCE):
        checkout = reference[len(STK_REFERENCE) :]
        return await session.scalar(
            select(MpesaRequest.id).where(MpesaRequest.checkout_request_id == checkout)
        )
    found = (
        await session.execute(
            select(MpesaTransaction.request_id, MpesaTransaction.source).where(
                MpesaTransaction.receipt == reference
            )
        )
    ).first()
    if found is None:
        return None
    if found.request_id is not None:
        return found.request_id
    if found.source != "c2b":
        return None
    # Daraja may confirm an STK payment to a paybill by C2B before the STK callback: the
    # money is then credited here first. It is the purchase's when this hotspot customer
    # has exactly one pending request for exactly this amount.
    candidates = list(
        await session.scalars(
            select(MpesaRequest.id)
            .join(HotspotPurchase, HotspotPurchase.mpesa_request_id == MpesaRequest.id)
            .where(
                MpesaRequest.subscriber_id == payment.subscriber_id,
                MpesaRequest.status == RequestStatus.PENDING,
                MpesaRequest.amount == payment.amount,
                HotspotPurchase.voucher_id.is_(None),
            )
            .limit(2)
        )
    )
    return candidates[0] if len(candidates) == 1 else None


async def portal_buyer(session: AsyncSession, request: MpesaRequest) -> int | None:
    """The payer of a portal purchase's STK request, named once it is paid: the buyer
    found again or their new account (buyers.py), written on the purchase too."""
    purchase = await session.scalar(
        select(HotspotPurchase)
        .where(HotspotPurchase.mpesa_request_id == request.id)
        .with_for_update()
    )
    if purchase is None:
        return None
    if purchase.subscriber_id is None:
        purchase.subscriber_id = await buyer_subscriber(
            session, purchase.phone, buyer_language(purchase.language)
        )
        await session.flush()
    return purchase.subscriber_id


async def issue_paid_purchase(session: AsyncSession, payment: Payment) -> None:
    if payment.method is not PaymentMethod.MPESA or not payment.reference:
        return
    request_id = await _request_id_of(session, payment)
    if request_id is None:
        return
    purchase = await session.scalar(
        select(HotspotPurchase)
        .where(HotspotPurchase.mpesa_request_id == request_id)
        .with_for_update()
    )
    # A purchase marked failed (its request expired) that is paid after all gets its
    # voucher: the money arrived.
    if purchase is None or purchase.voucher_id is not None:
        return
    if purchase.subscriber_id is None:
        # Held as `no_payer` and credited by staff to the account they chose.
        purchase.subscriber_id = payment.subscriber_id
    await fulfil_purchase(session, purchase, payment)


async def fulfil_purchase(
    session: AsyncSession, purchase: HotspotPurchase, payment: Payment
) -> Voucher:
    """Issue, sell, redeem, bill, mark paid and queue the SMS, in the caller's transaction."""
    now = utcnow()
    package = await session.get(Package, purchase.package_id)
    amount = payment.amount
    batch, made = await portal_batch(session, package, price=amount)
    voucher = await draw_voucher(session, batch, counted=made)
    from kiunga.tenants.vouchers.sales import record_sale

    await record_sale(
        session,
        voucher,
        channel=SaleChannel.PORTAL,
        actor_label=PORTAL.label,
        payment_id=payment.id,
        now=now,
    )
    redeemed = await _redeem(session, voucher, purchase)
    # The package as sold: billed from the credit just received, so the buyer's balance
    # is what it was before the payment.
    line = InvoiceLineInput(
        description=f"Hotspot: {package.name}",
        quantity=1,
        unit_price=amount,
        service_id=redeemed.service_id if redeemed else None,
        period_start=now if redeemed else None,
        period_end=redeemed.expires_at if redeemed else None,
    )
    invoice = await issue_invoice(
        session, purchase.subscriber_id, [line], due_at=now, actor=PORTAL, issued_at=now
    )
    purchase.status = PurchaseStatus.PAID
    purchase.voucher_id = voucher.id
    purchase.failure = ""
    purchase.completed_at = utcnow()
    await session.flush()
    await session.refresh(voucher)
    buyer = await session.get(Subscriber, purchase.subscriber_id)
    chosen = buyer_language(purchase.language)
    if chosen is not None and buyer.language is not chosen:
        # The SMS (and later messages) in the language the buyer used this time.
        buyer.language = chosen
        await session.flush()
    language = buyer.language or Language.ENGLISH
    # The SMS channel sends the code to the phone that paid (the portal also shows it).
    await emit(
        session,
        ISSUED,
        {
            "purchase_id": purchase.id,
            "voucher_id": voucher.id,
            "subscriber_id": purchase.subscriber_id,
            "payment_id": payment.id,
            "invoice_id": invoice.id,
            "phone": purchase.phone,
            "code": voucher.code,
            "package_name": package.name,
            "expires_at": voucher.expires_at.isoformat() if voucher.expires_at else None,
            "language": str(language.value),
            "redeemed": redeemed is not None,
        },
    )
    return voucher


async def portal_batch(
    session: AsyncSession, package: Package, *, price: int
) -> tuple[VoucherBatch, bool]:
    """The package's batch for portal sales (not revoked), locked; made on first use
    (True), already counting the voucher about to be drawn (count > 0 is checked)."""

    async def find():
        return await session.scalar(
            select(VoucherBatch)
            .where(
                VoucherBatch.package_id == package.id,
                VoucherBatch.name == PORTAL_BATCH,
                VoucherBatch.reseller_id.is_(None),
                VoucherBatch.revoked_at.is_(None),
            )
            .order_by(VoucherBatch.id)
            .limit(1)
            .with_for_update()
        )

    batch = await find()
    if batch is None:
        # Two first sales of a package at once make one batch: the package row serialises
        # them (FOR NO KEY UPDATE leaves foreign-key checks on the package unblocked).
        await session.execute(
            select(Package.id).where(Package.id == package.id).with_for_update(key_share=True)
        )
        batch = await find()
    made = batch is None
    if made:
        batch = VoucherBatch(
            name=PORTAL_BATCH,
            package_id=package.id,
            count=1,
            price=price,
            currency=package.currency,
            code_length=PORTAL_CODE_LENGTH,
            alphabet=DEFAULT_ALPHABET,
            prefix="",
            unused_expires_at=None,
            mac_binding=True,
            created_by=PORTAL.label,
        )
        session.add(batch)
        await session.flush()
    if batch.price != price:
        # Sales hold their own price; the batch shows what the portal sells for now.
        batch.price = price
    return batch, made


async def draw_voucher(session: AsyncSession, batch: VoucherBatch, *, counted: bool) -> Voucher:
    """One new voucher in `batch` with a fresh random code; the batch counts it (unless
    `counted`: a batch just made for it)."""
    for _ in range(10):
        (code,) = random_codes(1, batch.code_length, batch.alphabet, batch.prefix)
        voucher_id = await session.scalar(
            insert(Voucher)
            .values(batch_id=batch.id, code=code, status=VoucherStatus.NEW)
            .on_conflict_do_nothing(index_elements=[Voucher.code])
            .returning(Voucher.id)
        )
        if voucher_id is not None:
            break
    else:  # ten collisions in a row: the code space is nearly full
        raise RuntimeError(f"no free voucher code in batch {batch.id}")
    if not counted:
        batch.count = VoucherBatch.count + 1
        await session.flush()
        await session.refresh(batch)
    return await session.get(Voucher, voucher_id)


async def _redeem(session: AsyncSession, voucher: Voucher, purchase: HotspotPurchase):
    """Log the buyer's device in with the new voucher; None (the voucher stays sold, the
    code is shown and sent) when there is no device or redemption refuses."""
    if purchase.mac_address is None:
        return None
    from kiunga.tenants.vouchers.redeem import redeem_voucher

    try:
        async with session.begin_nested():
            return await redeem_voucher(
                session,
                voucher.code,
                mac=purchase.mac_address,
                ip=purchase.ip_address,
                actor_label=PORTAL.label,
                subscriber_id=purchase.subscriber_id,
            )
    except Exception as error:  # noqa: BLE001 — the money must commit whatever the login does
        log.warning(
            "portal voucher not redeemed", purchase_id=purchase.id, error=type(error).__name__
        )
        return None
