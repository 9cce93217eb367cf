"""An ISP whose channels are seeded as `kiunga up` seeds the demo's (against the run's
emulators), its callbacks going to a small recording server that answers USSD hops as a
conversation would, and the app in development (where the Phone page exists)."""

from __future__ import annotations

import dataclasses
import socket
import threading
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from kiunga.channels.phone.demo import seed_demo_channels
from kiunga.channels.phone.up_demo import point_emulators_at_kiunga
from kiunga.platform.areas import assemble
from kiunga.platform.web.app import create_app
from kiunga.tenants.mpesa.demo import seed_demo_mpesa

from fixtures.channels import unique_ussd_code
from fixtures.served import KiungaServer

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


class SelfAddressedServer(KiungaServer):
    """The app in development served on a real port whose public address (where the
    emulators and Daraja POST their callbacks) is its own, as under `kiunga up`."""

    def __init__(self, settings, database_url, redis_url):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.settings = dataclasses.replace(
            settings, environment="development", public_url=self.url
        )
        self.app = create_app(self.settings, database_url, redis_url)
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )


@pytest.fixture
def real_kiunga(settings, database_url, redis_url, monkeypatch):
    """Kiunga in development with its real hook routes, reached at its own public address;
    this process's jobs (the worker a test starts) build callback URLs from it too."""
    from kiunga.tenants.mpesa import config

    server = SelfAddressedServer(settings, database_url, redis_url).start()
    monkeypatch.setattr(config, "get_settings", lambda: server.settings)
    yield server
    server.stop()


def every_areas_jobs(registry) -> None:
    """What `kiunga worker` runs: every listed area's jobs and event handlers."""
    areas = assemble().areas
    registry.add(*(spec for area in areas for spec in (*area.jobs, *area.event_handlers)))


@pytest.fixture
async def demo_isp(make_tenant, database_url, daraja, at_emulator, twilio_emulator, real_kiunga):
    """(tenant, DemoChannels): an ISP seeded exactly as `kiunga up` seeds the demo one (its
    paybill on the Daraja emulator's demo app, the lapsed subscriber DEMO1, its channels on
    the emulators' demo accounts, whose reports go to the real Kiunga), its own USSD code."""
    tenant = make_tenant(name="Demo Story Wireless")
    await seed_demo_mpesa(database_url, tenant.slug, daraja.url)
    seeded = await seed_demo_channels(
        database_url,
        tenant.slug,
        at_url=at_emulator.url,
        twilio_url=twilio_emulator.url,
        public_url=real_kiunga.url,
        ussd_code=unique_ussd_code(),
    )
    # The run's emulators are shared: their demo accounts are put back as they were after.
    before = (dict(at_emulator.state.accounts), dict(twilio_emulator.state.accounts))
    point_emulators_at_kiunga(at_emulator, twilio_emulator, seeded)
    yield tenant, seeded
    at_emulator.state.accounts.update(before[0])
    twilio_emulator.state.accounts.update(before[1])
