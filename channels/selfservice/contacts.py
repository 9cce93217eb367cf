"""What a phone number chose: its language (also the subscriber's, when it is one), its
marketing opt-out, and — for an unknown number — registering interest as a lead in the
subscribers list."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.channels.messages.models import ChannelContact
from kiunga.channels.selfservice.accounts import (
    accounts_for_phone,
    clean_phone,
    own_account,
    upsert_contact,
)
from kiunga.channels.selfservice.errors import SelfServiceError, subscriber_actor
from kiunga.channels.selfservice.tickets import clean_text
from kiunga.tenants.subscribers.models import Language, Subscriber, SubscriberStatus
from kiunga.tenants.subscribers.service import SubscriberFields, create_subscriber
from sqlalchemy.ext.asyncio import AsyncSession

LANGUAGES = tuple(language.value for language in Language)


@dataclass(frozen=True, slots=True)
class ContactPrefs:
    phone: str
    language: str | None
    marketing_opt_out: bool
    chosen_subscriber_id: int | None


async def contact_prefs(session: AsyncSession, phone: str) -> ContactPrefs:
    phone = clean_phone(phone)
    row = await session.get(ChannelContact, phone, populate_existing=True)
    if row is None:
        return ContactPrefs(phone, None, False, None)
    return ContactPrefs(phone, row.language, row.marketing_opt_out, row.chosen_subscriber_id)


def clean_language(raw: object) -> str:
    if raw not in LANGUAGES:
        raise SelfServiceError("language", "choose English or Kiswahili")
    return str(raw)


async def set_language(
    session: AsyncSession, *, phone: str, subscriber_id: int | None, language: str
) -> None:
    """The phone's language, and the subscriber's (what notifications use) when given."""
    phone = clean_phone(phone)
    language = clean_language(language)
    await upsert_contact(session, phone, language=language)
    if subscriber_id is not None:
        await own_account(session, phone, subscriber_id)
        subscriber = await session.get(Subscriber, subscriber_id)
        subscriber.language = Language(language)
        await session.flush()


async def set_marketing(session: AsyncSession, *, phone: str, opted_in: bool) -> None:
    """STOP / START: campaigns skip a phone that opted out (service news still comes)."""
    phone = clean_phone(phone)
    await upsert_contact(session, phone, marketing_opt_out=not opted_in)


@dataclass(frozen=True, slots=True)
class Lead:
    subscriber_id: int
    account_number: str
    created: bool  # False: the phone already had an account (nothing new was made)


async def register_interest(
    session: AsyncSession,
    *,
    phone: str,
    name: str,
    location: str,
    language: str = "en",
    channel: str = "web",
) -> Lead:
    """An unknown number wants service: a lead (status lead) with its name, phone and
    location in words, in the subscribers list for staff to call. A phone already on an
    account (a lead too) gets that account back, not a second one."""
    phone = clean_phone(phone)
    name = clean_text(name, "name")[:200]
    location = clean_text(location, "location")
    language = clean_language(language)
    known = await accounts_for_phone(session, phone)
    if known:
        account = known[0]
        return Lead(account.subscriber_id, account.account_number, False)
    subscriber = await create_subscriber(
        session,
        SubscriberFields(
            name=name,
            phones=[phone],
            address=location,
            language=language,
            notes=f"Registered interest by {channel} from {phone}.",
        ),
        actor=subscriber_actor(phone, channel),
        status=SubscriberStatus.LEAD,
    )
    await upsert_contact(session, phone, language=language)
    return Lead(subscriber.id, subscriber.account_number, True)


async def lead_ids(session: AsyncSession, phone: str) -> list[int]:
    """The leads on this phone (an answer to "have I registered already?")."""
    return [
        a.subscriber_id
        for a in await accounts_for_phone(session, phone)
        if a.status == SubscriberStatus.LEAD.value
    ]
