"""Who a phone number is, and how their account stands: the accounts on a phone (a family
may share one; a phone on several accounts chooses one, remembered per phone), the
account's summary (status, package, expiry, balance, what is due, the last payment) and how
to pay it by hand (the paybill or till and the account number to type)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiunga.channels.messages.models import ChannelContact
from kiunga.channels.selfservice.errors import NotYours, SelfServiceError, record_id
from kiunga.platform.errors import Kind
from kiunga.tenants.billing import ledger
from kiunga.tenants.billing.invoices import open_amount
from kiunga.tenants.billing.models import Account, Payment
from kiunga.tenants.catalog.models import BillingType, Package
from kiunga.tenants.mpesa.config import settings_row
from kiunga.tenants.mpesa.models import ShortcodeType
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.subscribers.models import Subscriber, SubscriberPhone, SubscriberStatus
from kiunga.tenants.subscribers.phones import InvalidPhone, normalise_phone
from sqlalchemy import case, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

# A service's claim to be "the" service an account summary shows: live first, then one
# waiting for payment, then a lapsed one; terminated ones never.
_SERVICE_ORDER = {
    ServiceStatus.ACTIVE: 0,
    ServiceStatus.SUSPENDED: 1,
    ServiceStatus.EXPIRED: 2,
    ServiceStatus.PENDING: 3,
}
# M-Pesa moves whole shillings: a suggested payment is rounded up to one.
WHOLE_UNIT = 100


def clean_phone(raw: object, field: str = "phone") -> str:
    """E.164, the same normalisation as the subscriber records, or SelfServiceError."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 40 or "\x00" in raw:
        raise SelfServiceError(field, "enter a phone number such as 0712 345 678")
    try:
        return normalise_phone(raw)
    except InvalidPhone as exc:
        raise SelfServiceError(field, str(exc)) from None


def round_up_to_whole(amount: int) -> int:
    return -(-amount // WHOLE_UNIT) * WHOLE_UNIT if amount > 0 else 0


@dataclass(frozen=True, slots=True)
class AccountRef:
    subscriber_id: int
    account_number: str
    name: str
    status: str  # a SubscriberStatus value: lead, pending_installation, active, …


async def accounts_for_phone(session: AsyncSession, phone: str) -> list[AccountRef]:
    """The accounts holding this phone number (not terminated ones), oldest first."""
    phone = clean_phone(phone)
    rows = await session.execute(
        select(Subscriber.id, Subscriber.account_number, Subscriber.name, Subscriber.status)
        .join(SubscriberPhone, SubscriberPhone.subscriber_id == Subscriber.id)
        .where(SubscriberPhone.phone == phone, Subscriber.status != SubscriberStatus.TERMINATED)
        .distinct()
        .order_by(Subscriber.id)
    )
    return [AccountRef(sid, number, name, status.value) for sid, number, name, status in rows]


@dataclass(frozen=True, slots=True)
class Speaker:
    account: AccountRef
    language: str  # the subscriber's Language value


async def speakers_for_phone(session: AsyncSession, phone: str) -> list[Speaker]:
    """accounts_for_phone with each account's language, in the same one statement (what
    a conversation reads first)."""
    phone = clean_phone(phone)
    rows = await session.execute(
        select(
            Subscriber.id,
            Subscriber.account_number,
            Subscriber.name,
            Subscriber.status,
            Subscriber.language,
        )
        .join(SubscriberPhone, SubscriberPhone.subscriber_id == Subscriber.id)
        .where(SubscriberPhone.phone == phone, Subscriber.status != SubscriberStatus.TERMINATED)
        .distinct()
        .order_by(Subscriber.id)
    )
    return [
        Speaker(AccountRef(sid, number, name, status.value), language.value)
        for sid, number, name, status, language in rows
    ]


async def own_account(session: AsyncSession, phone: str, subscriber_id: object) -> AccountRef:
    """The account `subscriber_id` if `phone` is one of its numbers, else NotYours: a
    phone speaks only for its own accounts."""
    subscriber_id = record_id(subscriber_id, "subscriber_id")
    for account in await accounts_for_phone(session, phone):
        if account.subscriber_id == subscriber_id:
            return account
    raise NotYours("no such account on this phone", field="subscriber_id")


async def upsert_contact(session: AsyncSession, phone: str, **values: object) -> None:
    await session.execute(
        insert(ChannelContact)
        .values(phone=phone, **values)
        .on_conflict_do_update(index_elements=[ChannelContact.phone], set_=values)
    )


async def choose_account(session: AsyncSession, *, phone: str, subscriber_id: int) -> AccountRef:
    """Remember which account a phone on several speaks for (ChannelContact)."""
    phone = clean_phone(phone)
    account = await own_account(session, phone, subscriber_id)
    await upsert_contact(session, phone, chosen_subscriber_id=account.subscriber_id)
    return account


async def chosen_account(session: AsyncSession, phone: str) -> AccountRef | None:
    """The account this phone speaks for: its only one, or the one it chose (while the
    phone is still on it); None for a stranger or an unchosen phone on several."""
    accounts = await accounts_for_phone(session, phone)
    if len(accounts) == 1:
        return accounts[0]
    chosen = await session.scalar(
        select(ChannelContact.chosen_subscriber_id).where(
            ChannelContact.phone == clean_phone(phone)
        )
    )
    return next((a for a in accounts if a.subscriber_id == chosen), None)


@dataclass(frozen=True, slots=True)
class LastPayment:
    amount: int
    received_at: datetime
    reference: str | None  # the M-Pesa receipt


@dataclass(frozen=True, slots=True)
class AccountSummary:
    subscriber_id: int
    name: str
    account_number: str
    status: str  # SubscriberStatus value
    service_id: int | None
    service_status: str | None  # ServiceStatus value of the service shown
    package_id: int | None
    package_name: str | None
    package_name_sw: str | None
    billing_type: str | None  # prepaid | postpaid
    price: int | None  # the package's price a period (minor units)
    expires_at: datetime | None  # aware (UTC); show in the ISP's zone
    balance: int  # > 0 credit, < 0 owed
    amount_due: int  # what is left to pay on open invoices
    # What to pay now to be (or stay) online: the open invoices, or for a prepaid service
    # the price less the credit; rounded up to whole shillings. 0: nothing needed.
    suggested_payment: int
    currency: str
    last_payment: LastPayment | None
    language: str


async def main_service(session: AsyncSession, subscriber_id: int) -> Service | None:
    """The service an account summary speaks of (see _SERVICE_ORDER), newest first among
    equals."""
    order = case(
        *((Service.status == status, rank) for status, rank in _SERVICE_ORDER.items()), else_=9
    )
    return await session.scalar(
        select(Service)
        .where(Service.subscriber_id == subscriber_id, Service.status != ServiceStatus.TERMINATED)
        .order_by(order, Service.id.desc())
        .limit(1)
    )


async def account_summary(session: AsyncSession, subscriber_id: int) -> AccountSummary:
    # Column reads, not entities: loading a Subscriber or a Package loads their phones and
    # sites too, which a summary never shows (five statements in all, not nine).
    currency = (
        select(Account.currency).where(Account.subscriber_id == Subscriber.id).scalar_subquery()
    )
    subscriber = (
        await session.execute(
            select(
                Subscriber.id,
                Subscriber.name,
                Subscriber.account_number,
                Subscriber.status,
                Subscriber.language,
                currency.label("currency"),
            ).where(Subscriber.id == subscriber_id)
        )
    ).first()
    if subscriber is None:
        raise NotYours(f"no subscriber with id {subscriber_id}", field="subscriber_id")
    order = case(
        *((Service.status == status, rank) for status, rank in _SERVICE_ORDER.items()), else_=9
    )
    service = (
        await session.execute(
            select(
                Service.id,
                Service.status,
                Service.expires_at,
                Package.id.label("package_id"),
                Package.name,
                Package.name_sw,
                Package.billing_type,
                Package.price,
            )
            .join(Package, Package.id == Service.package_id)
            .where(
                Service.subscriber_id == subscriber_id, Service.status != ServiceStatus.TERMINATED
            )
            .order_by(order, Service.id.desc())
            .limit(1)
        )
    ).first()
    balance = await ledger.balance(session, subscriber_id)
    due = await open_amount(session, subscriber_id)
    suggested = _suggested(
        due, balance, service.price if service else None,
        service.billing_type.value if service else None,
    )  # fmt: skip
    last = (
        await session.execute(
            select(Payment.amount, Payment.received_at, Payment.reference)
            .where(Payment.subscriber_id == subscriber_id)
            .order_by(Payment.received_at.desc(), Payment.id.desc())
            .limit(1)
        )
    ).first()
    return AccountSummary(
        subscriber_id=subscriber.id,
        name=subscriber.name,
        account_number=subscriber.account_number,
        status=subscriber.status.value,
        service_id=service.id if service else None,
        service_status=service.status.value if service else None,
        package_id=service.package_id if service else None,
        package_name=service.name if service else None,
        package_name_sw=(service.name_sw or service.name) if service else None,
        billing_type=service.billing_type.value if service else None,
        price=service.price if service else None,
        expires_at=service.expires_at if service else None,
        balance=balance,
        amount_due=due,
        suggested_payment=suggested,
        currency=subscriber.currency or await ledger.tenant_currency(session),
        last_payment=LastPayment(int(last.amount), last.received_at, last.reference)
        if last
        else None,
        language=subscriber.language.value,
    )


def _suggested(due: int, balance: int, price: int | None, billing_type: str | None) -> int:
    """What to pay now (AccountSummary.suggested_payment), rounded up to whole shillings."""
    suggested = due
    if price is not None and billing_type == BillingType.PREPAID.value:
        suggested = max(due, price - balance)
    return round_up_to_whole(suggested)


@dataclass(frozen=True, slots=True)
class MoneyNow:
    balance: int
    amount_due: int
    suggested_payment: int


async def money_now(session: AsyncSession, summary: AccountSummary) -> MoneyNow:
    """The money figures of an account summary read earlier, as they stand now (two
    statements instead of a whole summary): for the moment money is asked for, when the
    rest of the summary (name, package, last payment) may be a few minutes old."""
    balance = await ledger.balance(session, summary.subscriber_id)
    due = await open_amount(session, summary.subscriber_id)
    suggested = _suggested(due, balance, summary.price, summary.billing_type)
    return MoneyNow(balance, due, suggested)


@dataclass(frozen=True, slots=True)
class PayByHand:
    method: str  # "paybill" or "till"
    business_number: str  # the paybill or till number to pay to
    account_number: str | None  # what to type as the account (a paybill only)
    suggested_amount: int
    currency: str


async def payment_instructions(session: AsyncSession, subscriber_id: int) -> PayByHand:
    """How to pay from the M-Pesa menu: Lipa na M-Pesa → Paybill (business number and the
    account number) or Buy Goods (the till). SelfServiceError (unavailable) when the ISP
    has not set M-Pesa up."""
    summary = await account_summary(session, subscriber_id)
    row = await settings_row(session)
    if row is None or not row.shortcode:
        raise SelfServiceError(
            "mpesa", "this provider does not take M-Pesa payments yet", kind=Kind.UNAVAILABLE
        )
    if row.shortcode_type is ShortcodeType.PAYBILL:
        method, number, account = "paybill", row.shortcode, summary.account_number
    else:
        method, number, account = "till", row.till_number or row.shortcode, None
    return PayByHand(method, number, account, summary.suggested_payment, summary.currency)
