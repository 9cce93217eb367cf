"""The demo ISP's channels as `kiunga up` seeds them: settings pointed at the emulators with
secrets encrypted, the callback token and the USSD code routed to the ISP, a second run
changing only the emulators' addresses; and the banner's curl, run, opens a USSD session in
Africa's Talking's form encoding."""

from __future__ import annotations

import asyncio
import subprocess
from urllib.parse import urlsplit

import pytest
from kiunga.channels.messages import secrets
from kiunga.channels.messages.models import ChannelSettings
from kiunga.channels.messages.routing import ChannelRoutes
from kiunga.channels.phone.demo import CallbackUrls, DemoChannels, seed_demo_channels
from kiunga.channels.phone.up_demo import ChannelsUp, banner, ussd_curl
from kiunga.integrations.africastalking.emulator import DEMO_API_KEY, DEMO_USERNAME
from kiunga.integrations.africastalking.forms import parse_ussd_hop
from kiunga.integrations.twilio.emulator import DEMO_AUTH_TOKEN
from kiunga.platform.cli.up import DemoContext
from kiunga.platform.db.engine import Database
from kiunga.tenants.mpesa.demo import DemoMpesa
from kiunga.tenants.mpesa.up_demo import MpesaUp

from fixtures.channels import unique_ussd_code


async def settings_row(database_url: str, schema: str) -> ChannelSettings:
    database = Database(database_url, pool_size=1)
    try:
        async with database.tenant_session(schema) as session:
            return await session.get(ChannelSettings, 1)
    finally:
        await database.dispose()


async def test_the_demo_channels_are_seeded_once_and_routed(
    make_tenant, database_url, at_emulator, twilio_emulator
):
    tenant = make_tenant(name="Demo Channels")
    database = Database(database_url, pool_size=1)
    code = unique_ussd_code()
    first = await seed_demo_channels(
        database_url,
        tenant.slug,
        at_url=at_emulator.url,
        twilio_url=twilio_emulator.url,
        public_url="http://127.0.0.1:8000/",
        ussd_code=code,
    )
    assert first.created_now and first.ussd_code == code
    assert first.callbacks.ussd.startswith("http://127.0.0.1:8000/hooks/channels/")
    row = await settings_row(database_url, tenant.schema)
    assert row.at_base_url == at_emulator.url and row.twilio_base_url == twilio_emulator.url
    assert row.at_username == DEMO_USERNAME
    assert DEMO_API_KEY not in row.at_api_key_encrypted
    assert secrets.decrypt(row.at_api_key_encrypted) == DEMO_API_KEY
    assert secrets.decrypt(row.twilio_auth_token_encrypted) == DEMO_AUTH_TOKEN
    assert row.ussd_service_code == code

    token = urlsplit(first.callbacks.base).path.rsplit("/", 1)[1]
    routes = ChannelRoutes(database, ttl_seconds=0)
    assert (await routes.by_token(token)).slug == tenant.slug
    found = await routes.ussd(code, "")
    assert found.target.slug == tenant.slug and found.extension == ""

    # A second run (the emulators on other ports): the same token and code, new addresses.
    second = await seed_demo_channels(
        database_url,
        tenant.slug,
        at_url="http://127.0.0.1:18091",
        twilio_url="http://127.0.0.1:18092",
        public_url="http://127.0.0.1:8000",
    )
    assert not second.created_now and second.ussd_code == code
    assert second.callbacks == first.callbacks
    row = await settings_row(database_url, tenant.schema)
    assert (row.at_base_url, row.twilio_base_url) == (
        "http://127.0.0.1:18091",
        "http://127.0.0.1:18092",
    )
    await database.dispose()


async def test_the_banners_curl_opens_a_session_in_ats_encoding(callback_recorder):
    callback_recorder.answer("/hooks/channels/tok/ussd", "CON Karibu")
    command = ussd_curl(
        f"{callback_recorder.url}/hooks/channels/tok/ussd", "*483*57#", "+254708374149"
    )
    run = await asyncio.to_thread(
        subprocess.run, ["sh", "-c", command + " -s"], capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "CON Karibu"
    [callback] = callback_recorder.at("/hooks/channels/tok/ussd")
    assert callback.headers["content-type"] == "application/x-www-form-urlencoded"
    hop = parse_ussd_hop(callback.form)
    assert (hop.service_code, hop.phone, hop.network_code, hop.text) == (
        "*483*57#",
        "+254708374149",
        "63902",
        "",
    )
    assert hop.session_id.startswith("ATUid_demo")
    assert b"%2A483%2A57%23" in callback.raw  # * and # percent-encoded, as AT sends them


async def test_ups_step_starts_the_emulators_and_points_them_at_kiunga(
    make_tenant, settings, database_url
):
    """Channels' demo step of `kiunga up`, on an ISP of its own: both emulators run, the
    demo accounts' delivery reports and status callbacks go to the ISP's callback addresses,
    and the banner gives the code, the callback address, the curl and the Phone page."""
    import httpx
    from kiunga.channels.phone import up_demo
    from kiunga.platform.cli.up import DemoContext

    tenant = make_tenant(name="Up Channels")
    context = DemoContext(settings, database_url, tenant.host, {}, [], slug=tenant.slug)
    made = await asyncio.to_thread(up_demo.seed, context)
    try:
        assert made is not None and made.seeded is not None, "the step did not seed"
        context.made["phone"] = made
        seeded = made.seeded
        async with httpx.AsyncClient(timeout=30) as http:
            at_accounts = (await http.get(f"{made.at_url}/emulator/accounts")).json()
            twilio_accounts = (await http.get(f"{made.twilio_url}/emulator/accounts")).json()
        [at] = [a for a in at_accounts if a["username"] == DEMO_USERNAME]
        assert at["delivery_report_url"] == seeded.callbacks.delivery
        [twilio] = [a for a in twilio_accounts if a["whatsapp_senders"] == [seeded.whatsapp_from]]
        assert twilio["status_callback_url"] == seeded.callbacks.whatsapp_status
        assert seeded.callbacks.base.startswith(settings.public_url)
        text = up_demo.banner(context)
        assert f"USSD {seeded.ussd_code}" in text
        assert seeded.callbacks.ussd in text
        assert "curl -X POST" in text and "text=" in text
        assert f"{context.url}/phone" in text
    finally:
        for emulator in context.emulators:
            emulator.stop()
    assert len(context.emulators) == 2


def _demo_context(settings, *, lapsed: bool | None) -> DemoContext:
    """A DemoContext as `kiunga up` has it after the seed steps: channels seeded, and the
    M-Pesa demo's subscriber lapsed, paid up, or no M-Pesa demo at all (None)."""
    seeded = DemoChannels(
        ussd_code="*483*57#",
        sender_id="KIUNGA",
        shortcode="20880",
        whatsapp_from="+14155238886",
        callbacks=CallbackUrls.of("http://127.0.0.1:8000", "tok"),
        created_now=False,
    )
    context = DemoContext(settings, "postgresql://unused", "demo.localhost", {}, [])
    context.made["phone"] = ChannelsUp("http://127.0.0.1:8091", "http://127.0.0.1:8092", seeded)
    if lapsed is not None:
        mpesa = DemoMpesa(
            shortcode="174379",
            account_number="DEMO1",
            amount_shillings=1000,
            msisdn="254708374149",
            registered=True,
            message="",
            service_status="expired" if lapsed else "active",
        )
        context.made["mpesa"] = MpesaUp(8089, mpesa)
    return context


@pytest.mark.parametrize("lapsed", [True, False, None])
def test_the_banner_tells_the_story_as_the_demo_subscriber_is(settings, lapsed):
    from kiunga.channels.selfcare import up_demo as selfcare_up

    context = _demo_context(settings, lapsed=lapsed)
    text = banner(context)
    assert "Channels: USSD *483*57#;" in text
    assert "USSD callback (AT's form POST): http://127.0.0.1:8000/hooks/channels/tok/ussd" in text
    assert f"{context.url}/phone" in text and "+254708374149" in text
    if lapsed:
        assert "DEMO1 is lapsed" in text and "the service comes back" in text
    elif lapsed is False:
        assert "DEMO1 is paid up" in text and "comes back" not in text
    else:
        assert "No M-Pesa demo" in text and "receipt" not in text
    # Read with self-care's lines (the area before): the phone written one way, no line twice.
    together = selfcare_up.banner(context) + text
    assert "254708374149" not in together.replace("+254708374149", "")
    lines = [line.strip() for line in together.splitlines() if line.strip()]
    assert len(lines) == len(set(lines))


async def test_the_seeded_history_is_not_told_when_the_worker_starts(
    make_tenant, database_url, at_emulator, twilio_emulator
):
    """Events already in the outbox when the demo's channels are seeded (the demo's history)
    are marked handled for the notification handlers, and for them only."""
    from kiunga.channels.messages.notifications import HANDLERS
    from kiunga.platform.jobs.outbox import OutboxDelivery, emit
    from sqlalchemy import select

    tenant = make_tenant(name="Demo History")
    database = Database(database_url, pool_size=1)
    try:
        async with database.tenant_session(tenant.schema) as session, session.begin():
            await emit(session, "service.activated", {"service_id": 1})
            await emit(session, "router.changed", {"router_id": 1, "change": "created"})
        await seed_demo_channels(
            database_url, tenant.slug, at_url=at_emulator.url, twilio_url=twilio_emulator.url,
            public_url="http://127.0.0.1:8000/", ussd_code=unique_ussd_code(),
        )  # fmt: skip
        async with database.tenant_session(tenant.schema) as session:
            done = (await session.execute(
                select(OutboxDelivery.handler, OutboxDelivery.completed_at)
            )).all()  # fmt: skip
    finally:
        await database.dispose()
    activated = [spec.name for spec in HANDLERS if spec.topic == "service.activated"]
    assert activated and sorted(name for name, _ in done) == sorted(activated)
    assert all(completed is not None for _, completed in done)
