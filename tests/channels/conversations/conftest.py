"""An ISP reachable on the channels: its secret callback path token and its USSD code (or
an extension on a shared one) in the platform's routing tables, a Twilio auth token, and
clients that speak Africa's Talking's and Twilio's forms to the app."""

from __future__ import annotations

import dataclasses
import itertools
import secrets
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from kiunga.channels.messages.models import ChannelSettings
from kiunga.channels.messages.secrets import encrypt, token_hash
from kiunga.platform.db.base import utcnow
from kiunga.platform.models import UssdCodeRoute, WebhookRoute
from kiunga.platform.web.app import create_app
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.mpesa.config import rotate_callback_token
from kiunga.tenants.services.lifecycle import expire_service
from kiunga.tenants.services.models import Service
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.subscribers.models import SubscriberStatus
from kiunga.tenants.subscribers.service import SubscriberFields, create_subscriber
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from fixtures.mpesa import use_daraja_app

_codes = itertools.count(1)
_sessions = itertools.count(1)
SHARED_TOKEN = "shared-" + secrets.token_urlsafe(12)
SHARED_CODE_BASE = 900


@pytest.fixture
async def mpesa_ready(daraja, daraja_app, tenant, unit_of_work) -> str:
    """The tenant's M-Pesa at an app of its own at the Daraja emulator; its paybill."""
    app = await daraja_app("Channels ISP")
    async with unit_of_work() as session:
        await use_daraja_app(session, daraja, app)
        await rotate_callback_token(session, tenant.id)
    return app["shortcode"]


@dataclass
class ChannelIsp:
    schema: str
    slug: str
    tenant_id: int
    token: str
    service_code: str
    twilio_token: str
    shared_code: str
    extension: str


@pytest.fixture
def channel_isp(tenant, engine, unit_of_work):
    """`await channel_isp()`: the test's ISP with its own USSD code (`shared=True`: an
    extension on a shared code instead; one route per ISP), a callback token and a Twilio
    auth token."""

    async def make(where=None, *, shared: bool = False) -> ChannelIsp:
        isp = where or tenant
        number = next(_codes)
        token = secrets.token_urlsafe(24)
        own_code = f"*483*{number}{abs(hash(isp.slug)) % 10_000}#"
        shared_code = f"*384*{SHARED_CODE_BASE + number % 50}#"
        extension = str(abs(hash(isp.slug)) % 90_000 + 10)
        twilio_token = secrets.token_hex(16)
        with Session(engine) as session, session.begin():
            session.add(
                WebhookRoute(token_hash=token_hash(token), tenant_id=isp.id, provider="channels")
            )
            if shared:
                session.add(
                    UssdCodeRoute(service_code=shared_code, extension=extension, tenant_id=isp.id)
                )
            else:
                session.add(UssdCodeRoute(service_code=own_code, extension="", tenant_id=isp.id))
        async with unit_of_work(isp) as session:
            session.add(
                ChannelSettings(
                    id=1,
                    ussd_service_code=own_code,
                    twilio_account_sid="AC" + "0" * 32,
                    twilio_auth_token_encrypted=encrypt(twilio_token),
                    whatsapp_from="+254700000001",
                )
            )
        return ChannelIsp(
            isp.schema, isp.slug, isp.id, token, own_code, twilio_token, shared_code, extension
        )

    return make


def new_session_id() -> str:
    return f"ATUid_{secrets.token_hex(8)}{next(_sessions)}"


@dataclass
class UssdSession:
    """One subscriber dialling: each `send(answer)` is the next hop, `text` growing as
    Africa's Talking builds it (inputs joined by *)."""

    client: httpx.AsyncClient
    path: str
    service_code: str
    phone: str
    network: str = "63902"
    session_id: str = dataclasses.field(default_factory=new_session_id)
    inputs: list[str] = dataclasses.field(default_factory=list)
    prefix: list[str] = dataclasses.field(default_factory=list)

    def form(self) -> dict[str, str]:
        return {
            "sessionId": self.session_id,
            "serviceCode": self.service_code,
            "phoneNumber": self.phone,
            "networkCode": self.network,
            "text": "*".join(self.prefix + self.inputs),
        }

    async def post(self, form: dict[str, str]) -> str:
        answer = await self.client.post(self.path, data=form)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/plain")
        assert answer.text.startswith(("CON ", "END ")), answer.text
        assert len(answer.text) <= 182, (len(answer.text), answer.text)
        return answer.text

    async def dial(self) -> str:
        return await self.post(self.form())

    async def send(self, answer: str) -> str:
        self.inputs.append(answer)
        return await self.post(self.form())


@pytest.fixture
def hooks_client(client_for, settings):
    return client_for(settings.base_domain)


@pytest.fixture
def dial(hooks_client):
    def make(isp: ChannelIsp, phone: str, network: str = "63902") -> UssdSession:
        return UssdSession(
            hooks_client, f"/hooks/channels/{isp.token}/ussd", isp.service_code, phone, network
        )

    return make


@pytest.fixture
def sms(hooks_client):
    """`await sms(isp, phone, text, id=...)`: an inbound SMS in Africa's Talking's form."""

    async def send(isp: ChannelIsp, phone: str, text: str, *, id: str | None = None, **extra):
        form = {
            "from": phone,
            "to": "22384",
            "text": text,
            "date": "2026-12-07 20:15:31",
            "id": id or secrets.token_hex(12),
            "linkId": extra.pop("linkId", secrets.token_hex(6)),
            "networkCode": extra.pop("networkCode", "63902"),
            **extra,
        }
        answer = await hooks_client.post(f"/hooks/channels/{isp.token}/sms", data=form)
        assert answer.status_code == 200, answer.text
        return form["id"]

    return send


@pytest.fixture
def whatsapp(hooks_client, settings):
    """`await whatsapp(isp, phone, body, sid=..., signature=...)`: Twilio's inbound
    webhook, signed by twilio's own RequestValidator over the public URL."""

    async def send(
        isp: ChannelIsp,
        phone: str,
        body: str,
        *,
        sid: str | None = None,
        auth_token: str | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        path = f"/hooks/channels/{isp.token}/whatsapp"
        form = {
            "SmsMessageSid": sid or "SM" + secrets.token_hex(16),
            "NumMedia": "0",
            "ProfileName": "Wanjiku",
            "WaId": phone.lstrip("+"),
            "Body": body,
            "To": "whatsapp:+254700000001",
            "From": f"whatsapp:{phone}",
            "MessageSid": sid or "SM" + secrets.token_hex(16),
            "AccountSid": "AC" + "0" * 32,
            "ApiVersion": "2010-04-01",
        }
        form["SmsMessageSid"] = form["MessageSid"]
        url = settings.public_url.rstrip("/") + path
        signed = RequestValidator(auth_token or isp.twilio_token).compute_signature(url, form)
        headers = {"X-Twilio-Signature": signature if signature is not None else signed}
        return await hooks_client.post(path, data=form, headers=headers)

    return send


@pytest.fixture
async def shared_app(settings, database_url, redis_url):
    """An app whose platform has a shared USSD code's path token."""
    app = create_app(
        dataclasses.replace(settings, ussd_shared_token=SHARED_TOKEN), database_url, redis_url
    )
    yield app
    await app.services.close()


STAFF = Actor.system("test")
_receipts = itertools.count(1)


@dataclass
class Customer:
    subscriber_id: int
    account_number: str
    phone: str
    service_id: int | None = None
    package_id: int | None = None


@pytest.fixture
def customer(unit_of_work, add_package):
    """`await customer(phone, lapsed=True, ...)`: a subscriber with the phone and a prepaid
    monthly service, paid once; `lapsed`: its period then ran out unpaid (expired)."""

    async def make(
        phone: str = "+254712345678",
        *,
        lapsed: bool = False,
        service: bool = True,
        name: str = "Achieng Otieno",
        schema=None,
        language: str = "en",
        **package,
    ) -> Customer:
        package.setdefault("price", 150_000)
        package_id = await add_package(schema=schema, **package) if service else None
        async with unit_of_work(schema) as session:
            subscriber = await create_subscriber(
                session,
                SubscriberFields(name=name, phones=[phone], language=language),
                actor=STAFF,
                status=SubscriberStatus.PENDING_INSTALLATION,
            )
            found = Customer(subscriber.id, subscriber.account_number, phone)
            if package_id is not None:
                made = await create_service(
                    session,
                    NewService(subscriber_id=subscriber.id, package_id=package_id),
                    actor=STAFF,
                    activate=False,
                )
                found.service_id, found.package_id = made.id, package_id
        if package_id is None:
            return found
        async with unit_of_work(schema) as session:
            await record_payment(
                session,
                found.subscriber_id,
                package["price"],
                method="mpesa",
                reference=f"RC{next(_receipts):08d}",
                received_at=utcnow(),
                actor=Actor.system("mpesa"),
            )
        if lapsed:
            async with unit_of_work(schema) as session:
                service = await session.get(Service, found.service_id)
                await expire_service(
                    session,
                    found.service_id,
                    actor=STAFF,
                    now=service.expires_at + timedelta(seconds=1),
                )
        return found

    return make
