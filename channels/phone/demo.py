"""The demo ISP's channels for `kiunga up`: its channel settings pointed at the local Africa's
Talking and Twilio emulators (their demo accounts), its own USSD code, and the secret path
token its callbacks arrive on.

Idempotent: a second run keeps the token and the code, and only points the settings at the
emulators' current addresses (they may listen on other ports than last time).
"""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.channels.messages import notifications, secrets
from kiunga.channels.messages.models import ChannelSettings
from kiunga.channels.messages.routing import PROVIDER
from kiunga.integrations.africastalking.emulator import (
    DEMO_API_KEY,
    DEMO_SENDER_ID,
    DEMO_SHORTCODE,
    DEMO_USERNAME,
)
from kiunga.integrations.twilio.emulator import (
    DEMO_ACCOUNT_SID,
    DEMO_AUTH_TOKEN,
    DEMO_WHATSAPP_FROM,
)
from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import Database
from kiunga.platform.jobs.outbox import OutboxDelivery, OutboxEvent
from kiunga.platform.models import Tenant, UssdCodeRoute, WebhookRoute
from kiunga.platform.webhook_routes import route_new_token
from sqlalchemy import literal, select
from sqlalchemy.dialects.postgresql import insert

DEMO_USSD_CODE = "*483*57#"
LOCAL_PREFIXES = ("http://127.0.0.1", "http://localhost")


@dataclass(frozen=True)
class CallbackUrls:
    """Where the providers POST an ISP's channel callbacks: one secret token per ISP."""

    base: str

    @classmethod
    def of(cls, public_url: str, token: str) -> CallbackUrls:
        return cls(f"{public_url.rstrip('/')}/hooks/channels/{token}")

    @property
    def ussd(self) -> str:
        return f"{self.base}/ussd"

    @property
    def sms(self) -> str:
        return f"{self.base}/sms"

    @property
    def delivery(self) -> str:
        return f"{self.base}/delivery"

    @property
    def whatsapp(self) -> str:
        return f"{self.base}/whatsapp"

    @property
    def whatsapp_status(self) -> str:
        return f"{self.base}/whatsapp/status"


@dataclass(frozen=True)
class DemoChannels:
    ussd_code: str
    sender_id: str
    shortcode: str
    whatsapp_from: str
    callbacks: CallbackUrls
    created_now: bool


async def _callback_token(session, row: ChannelSettings, tenant_id: int) -> str:
    """The ISP's channel callback token: the stored one, or a new one (its hash routed to
    the ISP in platform.webhook_routes, an encrypted copy in the settings)."""
    if row.callback_token_encrypted:
        try:
            token = secrets.decrypt(row.callback_token_encrypted)
        except ValueError:
            token = None  # stored under another secret key: make a new one
        if token is not None:
            routed = await session.scalar(
                select(WebhookRoute.tenant_id).where(
                    WebhookRoute.token_hash == secrets.token_hash(token),
                    WebhookRoute.provider == PROVIDER,
                )
            )
            if routed == tenant_id:
                return token
    token = await route_new_token(session, tenant_id, PROVIDER)
    row.callback_token_encrypted = secrets.encrypt(token)
    return token


async def _ussd_code(session, row: ChannelSettings, tenant_id: int, wanted: str) -> str:
    route = await session.scalar(select(UssdCodeRoute).where(UssdCodeRoute.tenant_id == tenant_id))
    if route is not None:
        row.ussd_service_code, row.ussd_extension = route.service_code, route.extension or None
        return route.service_code
    taken = await session.scalar(
        select(UssdCodeRoute.tenant_id).where(
            UssdCodeRoute.service_code == wanted, UssdCodeRoute.extension == ""
        )
    )
    if taken is not None:
        raise ValueError(f"the USSD code {wanted} is another ISP's")
    session.add(UssdCodeRoute(service_code=wanted, extension="", tenant_id=tenant_id))
    row.ussd_service_code, row.ussd_extension = wanted, None
    return wanted


async def seed_demo_channels(
    database_url: str,
    slug: str,
    *,
    at_url: str,
    twilio_url: str,
    public_url: str,
    ussd_code: str = DEMO_USSD_CODE,
) -> DemoChannels:
    """The ISP `slug`'s channels on the emulators (see the module docstring); its USSD code
    `ussd_code` unless it has one already (ValueError if another ISP holds that code)."""
    database = Database(database_url, pool_size=2)
    try:
        async with database.platform_session() as session:
            tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            raise LookupError(f"no tenant {slug!r}")
        async with database.tenant_session(tenant.schema_name) as session, session.begin():
            row = await session.get(ChannelSettings, 1)
            created_now = row is None
            if row is None:
                row = ChannelSettings(
                    id=1,
                    at_username=DEMO_USERNAME,
                    at_api_key_encrypted=secrets.encrypt(DEMO_API_KEY),
                    at_sender_id=DEMO_SENDER_ID,
                    at_shortcode=DEMO_SHORTCODE,
                    at_base_url=at_url,
                    twilio_account_sid=DEMO_ACCOUNT_SID,
                    twilio_auth_token_encrypted=secrets.encrypt(DEMO_AUTH_TOKEN),
                    whatsapp_from=DEMO_WHATSAPP_FROM,
                    twilio_base_url=twilio_url,
                    whatsapp_templates={},
                )
                session.add(row)
                await session.flush()
            # The emulators may listen on other ports than last time; an address set to
            # something else (a real provider) is left alone.
            if not row.at_base_url or row.at_base_url.startswith(LOCAL_PREFIXES):
                row.at_base_url = at_url
            if not row.twilio_base_url or row.twilio_base_url.startswith(LOCAL_PREFIXES):
                row.twilio_base_url = twilio_url
            # The platform's routing tables are written in the tenant's transaction (the
            # session reaches the platform schema by its qualified names).
            if created_now:
                await _history_is_not_news(session)
            token = await _callback_token(session, row, tenant.id)
            code = await _ussd_code(session, row, tenant.id, ussd_code)
            await session.flush()
            sender_id = row.at_sender_id or DEMO_SENDER_ID
            shortcode = row.at_shortcode or DEMO_SHORTCODE
            whatsapp_from = row.whatsapp_from or DEMO_WHATSAPP_FROM
    finally:
        await database.dispose()
    return DemoChannels(
        ussd_code=code,
        sender_id=sender_id,
        shortcode=shortcode,
        whatsapp_from=whatsapp_from,
        callbacks=CallbackUrls.of(public_url, token),
        created_now=created_now,
    )


async def _history_is_not_news(session) -> None:
    """The demo's seeded history (a service activated weeks ago, a payment long settled)
    is not told to the subscriber when the worker first starts: each event already in the
    outbox is marked handled for the notification handlers, and only what happens from now
    on reaches the Phone page."""
    now = utcnow()
    for spec in notifications.HANDLERS:
        events = select(OutboxEvent.id, literal(spec.name), literal(0), literal(now)).where(
            OutboxEvent.topic == spec.topic
        )
        await session.execute(
            insert(OutboxDelivery)
            .from_select(["event_id", "handler", "attempts", "completed_at"], events)
            .on_conflict_do_nothing()
        )
