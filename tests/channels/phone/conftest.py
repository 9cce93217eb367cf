"""An ISP whose channels are seeded as `kiunga up` seeds the demo's (against the run's
emulators), its callbacks going to a small recording server that answers USSD hops as a
conversation would, and the app in development (where the Phone page exists)."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

import httpx
import pytest
from kiunga.channels.phone.demo import seed_demo_channels
from kiunga.platform.web.app import create_app

from fixtures.channels import unique_ussd_code

OWNER_PASSWORD = "correct horse battery"


# A stand-in conversation: the screens a subscriber steps through.
SCREENS = {
    "": "CON Karibu Demo ISP\n1. Akaunti yangu\n2. Lipa",
    "1": "END Akaunti DEMO1: huduma imeisha",
    "2": "CON Kiasi (KES)?\n0. Rudi",
    "2*1000": "END Utapokea ombi la M-Pesa la KES 1,000",
}


def ussd_screen(callback) -> str:
    return SCREENS.get(callback.form.get("text", ""), "CON Chaguo si sahihi\n1. Akaunti\n2. Lipa")


@pytest.fixture
async def seeded_isp(make_tenant, database_url, at_emulator, twilio_emulator, callback_recorder):
    """(tenant, DemoChannels): an ISP of its own with channels seeded; its USSD hops are
    answered from SCREENS by `callback_recorder`."""
    tenant = make_tenant(name="Nyeri Net")
    seeded = await seed_demo_channels(
        database_url,
        tenant.slug,
        at_url=at_emulator.url,
        twilio_url=twilio_emulator.url,
        public_url=callback_recorder.url,
        ussd_code=unique_ussd_code(),
    )
    callback_recorder.answer(urlsplit(seeded.callbacks.ussd).path, ussd_screen)
    return tenant, seeded


@pytest.fixture
async def development_app(settings, database_url, redis_url, callback_recorder):
    """The app in development, its public address (where the emulators POST callbacks) the
    recording server's."""
    changed = dataclasses.replace(
        settings, environment="development", public_url=callback_recorder.url
    )
    app = create_app(changed, database_url, redis_url)
    yield app
    await app.services.close()


@pytest.fixture
async def owner_of(development_app, login):
    """`await owner_of(tenant)`: a client of the development app signed in as its owner."""
    clients: list[httpx.AsyncClient] = []

    async def signed_in(tenant) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=development_app, client=("127.0.0.1", 50000))
        client = httpx.AsyncClient(transport=transport, base_url=f"http://{tenant.host}")
        clients.append(client)
        answer = await login(client, tenant.owner_email, OWNER_PASSWORD)
        assert answer.status_code == 303, answer.text
        return client

    yield signed_in
    for client in clients:
        await client.aclose()
