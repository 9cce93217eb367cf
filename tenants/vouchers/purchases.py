"""Buying a hotspot package on the captive portal with M-Pesa.

phone → STK push → (the callback, or STK Query from the settle job) paid → a voucher for
the package, billed, sold, redeemed for the device that asked, and a `voucher.issued` event
for the SMS with the code. This module starts purchases and tells the waiting page how one
stands; what happens when the money arrives is in `purchase_hooks` (a payment hook and a
payer resolver, listed in the vouchers' manifest).

The purchase row is written in the same transaction as its STK request, before Daraja is
called: a callback can never arrive for a request whose purchase the hook cannot find.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import Database
from kiunga.tenants.catalog.models import Package, ServiceType
from kiunga.tenants.mpesa.errors import MpesaError
from kiunga.tenants.mpesa.gateway import GatewayFactory, daraja_gateway
from kiunga.tenants.mpesa.models import MpesaRequest, RequestStatus
from kiunga.tenants.mpesa.stk import EXPIRE_AFTER, PaymentAsk, request_payment
from kiunga.tenants.services.service import router_mac
from kiunga.tenants.subscribers.phones import InvalidPhone, normalise_phone

from kiunga.tenants.vouchers.buyers import PORTAL, buyer_language, earlier_buyer, lock_phone
from kiunga.tenants.vouchers.errors import VoucherError
from kiunga.tenants.vouchers.models import HotspotPurchase, PurchaseStatus, Voucher
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

# Kenyan mobiles only: M-Pesa is Safaricom's (07xx and 01xx ranges).
_KENYAN_MOBILE = re.compile(r"^\+254(7\d{8}|1\d{8})$")
MAX_TOKEN_LENGTH = 64
# How long Safaricom keeps an STK prompt open on the phone.
PROMPT_OPEN = timedelta(seconds=60)

# Why a purchase failed: a key the portal can translate, and plain English words.
FAILURES = {
    "cancelled": "You cancelled the payment",
    "insufficient_funds": "Your M-Pesa balance is not enough for this package",
    "unreachable": "The request timed out: your phone could not be reached",
    "busy": "Another M-Pesa payment is in progress on your phone: try again in a minute",
    "timeout": "The request timed out",
    "wrong_pin": "The M-Pesa PIN was wrong",
    "being_checked": "Your payment is being checked: the ISP will contact you",
    "not_issued": "Your payment was received but no voucher was issued yet: please contact support",
    "refused": "M-Pesa did not accept the request: try again",
    "failed": "The payment did not go through",
}
# Daraja's STK result codes.
RESULT_REASONS = {
    1: "insufficient_funds",
    1032: "cancelled",
    1037: "unreachable",
    1001: "busy",
    1019: "timeout",
    2001: "wrong_pin",
}


def portal_phone(raw: object) -> str:
    """A Kenyan mobile in E.164 (+2547…, +2541…), or VoucherError naming `phone`."""
    if not isinstance(raw, str) or not raw.strip():
        raise VoucherError("phone", "enter your M-Pesa phone number")
    try:
        phone = normalise_phone(raw)
    except InvalidPhone as exc:
        raise VoucherError("phone", str(exc)) from None
    if not _KENYAN_MOBILE.match(phone):
        raise VoucherError("phone", "M-Pesa needs a Kenyan mobile number (07… or 01…)")
    return phone


def mask_phone(phone: str) -> str:
    """+254712345678 → 0712***678: enough to recognise one's own number."""
    national = phone[4:] if phone.startswith("+254") else phone.lstrip("+")
    if len(national) < 7:
        return "***"
    return f"0{national[:3]}***{national[-3:]}"


async def portal_package(session: AsyncSession, package_id: object) -> Package:
    """A package the portal may sell, or VoucherError naming `package_id` (another ISP's
    id is simply not found here)."""
    if isinstance(package_id, bool) or not isinstance(package_id, int):
        raise VoucherError("package_id", "package_id must be a whole number")
    package = await session.get(Package, package_id)
    if package is None:
        raise VoucherError("package_id", f"no package with id {package_id}")
    if package.service_type is not ServiceType.HOTSPOT:
        raise VoucherError("package_id", f"package {package_id} is not a hotspot package")
    if not package.sold_on_portal or not package.is_active:
        raise VoucherError("package_id", f"package {package_id} is not on sale here")
    if package.price <= 0 or package.price % 100:
        raise VoucherError(
            "package_id", f"package {package_id} has no price M-Pesa can charge (whole shillings)"
        )
    return package


async def refuse_second_prompt(session: AsyncSession, phone: str, request_id: int) -> None:
    """A second push while the phone still shows the first would let one person pay twice
    for one package (and lets a stranger flood a phone with prompts): refused for as long
    as Safaricom keeps the first prompt open."""
    await lock_phone(session, phone)
    waiting = await session.scalar(
        select(HotspotPurchase.id)
        .join(MpesaRequest, MpesaRequest.id == HotspotPurchase.mpesa_request_id)
        .where(
            HotspotPurchase.phone == phone,
            HotspotPurchase.status == PurchaseStatus.PENDING,
            MpesaRequest.status == RequestStatus.PENDING,
            MpesaRequest.id != request_id,
            MpesaRequest.created_at > func.now() - PROMPT_OPEN,
        )
        .limit(1)
    )
    if waiting is not None:
        raise VoucherError(
            "phone",
            "a payment request is already waiting on this phone: answer it, or try again "
            "in a minute",
            status_code=409,
        )


async def start_purchase(
    database: Database,
    schema: str,
    *,
    package_id: int,
    phone: str,
    mac: str | None,
    ip: str | None,
    gateway_factory: GatewayFactory = daraja_gateway,
    language: str | None = None,
) -> HotspotPurchase:
    """Send the STK push for a portal package; the pending purchase (its `token` is the
    waiting page's handle). VoucherError naming package_id or phone for bad input (phone,
    409, also while an earlier prompt still waits on that phone);
    MpesaError / MpesaUnavailable when M-Pesa is not set up or Daraja refused (the purchase
    is then recorded as failed)."""
    phone = portal_phone(phone)
    # A MAC the router sent badly counts as none (as for a redemption): the voucher is
    # still issued and shown, only not logged in for a device.
    mac = router_mac(mac)
    ip = (ip or "").strip()[:45] or None
    chosen = buyer_language(language)
    async with database.tenant_session(schema) as session, session.begin():
        package = await portal_package(session, package_id)
        amount = package.price
        # A buyer who paid before is asked as that subscriber; a first-time buyer's
        # account is made only once paid (buyers.py, through the payer resolver).
        subscriber_id = await earlier_buyer(session, phone)

    token = secrets.token_urlsafe(32)
    made: list[HotspotPurchase] = []

    async def record_purchase(session: AsyncSession, request: MpesaRequest) -> None:
        await refuse_second_prompt(session, phone, request.id)
        purchase = HotspotPurchase(
            token=token,
            package_id=package_id,
            phone=phone,
            mac_address=mac,
            ip_address=ip,
            subscriber_id=subscriber_id,
            language=chosen.value if chosen else None,
            mpesa_request_id=request.id,
            status=PurchaseStatus.PENDING,
        )
        session.add(purchase)
        await session.flush()
        made.append(purchase)

    try:
        await request_payment(
            database,
            schema,
            PaymentAsk(
                phone=phone,
                amount=amount,
                subscriber_id=subscriber_id,
                payer_when_paid=subscriber_id is None,
            ),
            actor=PORTAL,
            gateway_factory=gateway_factory,
            on_request=record_purchase,
        )
    except MpesaError as error:
        if made:
            await _mark_failed(database, schema, made[0].id, error.message or FAILURES["refused"])
        raise
    async with database.tenant_session(schema) as session:
        return await session.get(HotspotPurchase, made[0].id)


async def _mark_failed(database: Database, schema: str, purchase_id: int, reason: str) -> None:
    async with database.tenant_session(schema) as session, session.begin():
        purchase = await session.get(HotspotPurchase, purchase_id, with_for_update=True)
        if purchase is not None and purchase.status is PurchaseStatus.PENDING:
            purchase.status = PurchaseStatus.FAILED
            purchase.failure = reason[:300]
            purchase.completed_at = utcnow()


@dataclass(frozen=True, slots=True)
class PurchaseView:
    """What the waiting page shows."""

    status: str  # "pending", "paid" or "failed"
    package_name: str
    amount: int
    currency: str
    phone_masked: str
    # The voucher's code once paid (the portal logs the device in with it).
    code: str | None
    # Why it failed, in plain words.
    failure: str | None
    # When the bought access ends (paid and redeemed); None before, or when validity
    # starts at first use.
    expires_at: datetime | None
    purchase_id: int = 0
    mac_address: str | None = None
    # After this a pending purchase will not be paid any more: stop polling.
    pending_until: datetime | None = None
    # The failure as a key of FAILURES (cancelled, insufficient_funds, unreachable, busy,
    # timeout, wrong_pin, being_checked, not_issued, refused, failed), for translation.
    failure_reason: str | None = None


def failure_of(request: MpesaRequest | None, purchase: HotspotPurchase) -> tuple[str, str] | None:
    """Why a purchase that is not paid has failed, as (key of FAILURES, plain words), or
    None while it may still be paid."""
    if purchase.status is PurchaseStatus.FAILED:
        return "refused", purchase.failure or FAILURES["refused"]
    if request is None:
        return None
    if request.status is RequestStatus.FAILED:
        reason = RESULT_REASONS.get(request.result_code)
        if reason is not None:
            return reason, FAILURES[reason]
        return "failed", (request.result_desc or "").strip()[:300] or FAILURES["failed"]
    if request.status is RequestStatus.EXPIRED:
        return "timeout", FAILURES["timeout"]
    if request.status is RequestStatus.REVIEW:
        return "being_checked", FAILURES["being_checked"]
    if request.status is RequestStatus.PAID:
        # Paid, yet no voucher (the hook was not loaded in the process that credited it):
        # after a little while, say so instead of waiting for ever.
        completed = request.completed_at or request.created_at
        if (utcnow() - completed).total_seconds() > 60:
            return "not_issued", FAILURES["not_issued"]
    return None


async def purchase_by_token(session: AsyncSession, token: str) -> HotspotPurchase | None:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return await session.scalar(select(HotspotPurchase).where(HotspotPurchase.token == token))


async def purchase_view(session: AsyncSession, token: str) -> PurchaseView | None:
    """How the purchase behind `token` stands (None: no such purchase). Only reads."""
    purchase = await purchase_by_token(session, token)
    if purchase is None:
        return None
    package_name, currency, price = (
        await session.execute(
            select(Package.name, Package.currency, Package.price).where(
                Package.id == purchase.package_id
            )
        )
    ).one()
    request = (
        await session.get(MpesaRequest, purchase.mpesa_request_id)
        if purchase.mpesa_request_id is not None
        else None
    )
    amount = request.amount if request is not None else price
    pending_until = (request.created_at if request else purchase.created_at) + EXPIRE_AFTER
    common = {
        "package_name": package_name,
        "amount": int(amount),
        "currency": currency,
        "phone_masked": mask_phone(purchase.phone),
        "purchase_id": purchase.id,
        "mac_address": purchase.mac_address,
        "pending_until": pending_until,
    }
    if purchase.status is PurchaseStatus.PAID and purchase.voucher_id is not None:
        voucher = await session.get(Voucher, purchase.voucher_id)
        return PurchaseView(
            "paid", code=voucher.code, failure=None, expires_at=voucher.expires_at, **common
        )
    failure = failure_of(request, purchase)
    if failure is None:
        return PurchaseView("pending", code=None, failure=None, expires_at=None, **common)
    reason, words = failure
    return PurchaseView(
        "failed", code=None, failure=words, expires_at=None, failure_reason=reason, **common
    )


async def count_purchases(session: AsyncSession, status: PurchaseStatus) -> int:
    query = select(func.count()).select_from(HotspotPurchase)
    return int(await session.scalar(query.where(HotspotPurchase.status == status)) or 0)
