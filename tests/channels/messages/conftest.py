"""Messaging fixtures: an ISP whose channel settings point at the providers' emulators, a
worker that drains its queue, and the emulators' delivery reports applied as the settings'
callback routes apply them."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from kiunga.channels.messages import notifications, secrets, sender
from kiunga.channels.messages.models import ChannelSettings
from kiunga.channels.messages.receipts import apply_delivery_report, apply_whatsapp_status
from kiunga.integrations.africastalking.forms import parse_delivery_report
from kiunga.integrations.twilio.forms import parse_status_callback


def emulator_json(url: str, method: str = "GET", **body):
    answer = httpx.request(method, url, json=body or None, timeout=30)
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.content else None


@pytest.fixture
def fast_retries(monkeypatch):
    """Retries and doubts settled in fractions of a second (the defaults are minutes)."""
    monkeypatch.setenv("KIUNGA_MESSAGES_BACKOFF", "0.2")
    monkeypatch.setenv("KIUNGA_MESSAGES_LEASE", "30")
    monkeypatch.setenv("KIUNGA_MESSAGES_DOUBT_GRACE", "1")


@pytest.fixture
def channel_settings(unit_of_work, settings_env):
    """`await channel_settings(at=credentials, twilio=(credentials, sender), **columns)`."""

    async def write(*, at=None, twilio=None, **columns) -> None:
        values = dict(columns)
        if at is not None:
            values.update(
                at_username=at.username,
                at_api_key_encrypted=secrets.encrypt(at.api_key),
                at_base_url=at.base_url,
                at_sender_id=values.get("at_sender_id", "TESTISP"),
            )
        if twilio is not None:
            credentials, whatsapp_from = twilio
            values.update(
                twilio_account_sid=credentials.account_sid,
                twilio_auth_token_encrypted=secrets.encrypt(credentials.auth_token),
                twilio_base_url=credentials.base_url,
                whatsapp_from=whatsapp_from,
            )
        async with unit_of_work() as session:
            row = await session.get(ChannelSettings, 1)
            if row is None:
                # Created first, then set: a None given (no quiet hours) is kept, not
                # taken for "use the column's default".
                row = ChannelSettings(id=1)
                session.add(row)
                await session.flush()
            for name, value in values.items():
                setattr(row, name, value)

    return write


def register_sender(registry, *, with_notifications: bool = False):
    registry.add(sender.drain_queue, sender.wake_sender)
    if with_notifications:
        registry.add(*notifications.HANDLERS)


@pytest.fixture
async def reports_applied(callback_recorder, unit_of_work, tenant):
    """The emulators' delivery reports and status callbacks (POSTed to the recorder, at
    /at and /twilio) applied to the test ISP's message log as they arrive."""
    done = 0
    stop = asyncio.Event()

    async def apply_forever():
        nonlocal done
        while not stop.is_set():
            received = callback_recorder.received[done:]
            for callback in received:
                async with unit_of_work() as session:
                    if callback.path == "/at":
                        await apply_delivery_report(session, parse_delivery_report(callback.form))
                    elif callback.path == "/twilio":
                        await apply_whatsapp_status(session, parse_status_callback(callback.form))
            done += len(received)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)

    task = asyncio.create_task(apply_forever())
    yield callback_recorder
    stop.set()
    await task
