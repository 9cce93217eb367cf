"""The messaging providers' SDK clients against their emulators, as fast as they go: how
many SMS a second `AfricasTalkingSms` (the `africastalking` SDK in its thread pool) gets
accepted by the AT emulator, and how many WhatsApp messages `TwilioWhatsApp` gets accepted
by the Twilio emulator. The emulators run as `kiunga emulator …` processes of their own, as
the providers are; the outbound queue's own benchmark (10,000 reminders, 200/s or more)
stands on these figures.

Run with `KIUNGA_BENCH=1 python -m pytest tests/bench/test_messaging_clients.py -s`.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
from kiunga.integrations.africastalking.client import AfricasTalkingSms
from kiunga.integrations.africastalking.emulator import DEMO_API_KEY, DEMO_USERNAME
from kiunga.integrations.africastalking.interfaces import AtCredentials
from kiunga.integrations.twilio.client import TwilioWhatsApp
from kiunga.integrations.twilio.emulator import (
    DEMO_ACCOUNT_SID,
    DEMO_AUTH_TOKEN,
    DEMO_TEMPLATE_SID,
    DEMO_WHATSAPP_FROM,
)
from kiunga.integrations.twilio.interfaces import TwilioCredentials

KIUNGA = Path(sys.executable).with_name("kiunga")
SMS_COUNT = 5000
WHATSAPP_COUNT = 2000
WORKERS = (8, 32)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def emulator(name: str):
    port = _free_port()
    process = subprocess.Popen(
        [str(KIUNGA), "emulator", name, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/emulator/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, f"{name} did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _rate(send, count: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(send(n) for n in range(count)))
    return count / (time.perf_counter() - started)


async def _one_sms(sms: AfricasTalkingSms, credentials: AtCredentials, n: int) -> None:
    sent = await sms.send(
        credentials, to=f"+2547{n:08d}", message=f"Reminder {n}", sender_id="KIUNGA"
    )
    assert sent.accepted


async def _one_whatsapp(client: TwilioWhatsApp, credentials: TwilioCredentials, n: int) -> None:
    await client.send(
        credentials,
        from_=DEMO_WHATSAPP_FROM,
        to=f"+2547{n:08d}",
        content_sid=DEMO_TEMPLATE_SID,
        content_variables={"1": f"Reminder {n}"},
    )


async def test_sms_through_the_sdk():
    with emulator("africastalking") as url:
        credentials = AtCredentials(DEMO_USERNAME, DEMO_API_KEY, base_url=url)
        for workers in WORKERS:
            sms = AfricasTalkingSms(max_workers=workers)
            try:
                rate = await _rate(lambda n, sms=sms: _one_sms(sms, credentials, n), SMS_COUNT)
            finally:
                sms.close()
            print(f"\nAT SMS, {workers} threads: {SMS_COUNT} accepted at {rate:,.0f} msg/s")
        async with httpx.AsyncClient(timeout=30) as http:
            stats = (await http.get(f"{url}/emulator/sms/stats")).json()
        assert stats["accepted"] == SMS_COUNT * len(WORKERS)


async def test_whatsapp_templates_through_the_sdk():
    with emulator("twilio") as url:
        credentials = TwilioCredentials(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, base_url=url)
        for workers in WORKERS:
            whatsapp = TwilioWhatsApp(max_workers=workers)
            try:
                rate = await _rate(
                    lambda n, client=whatsapp: _one_whatsapp(client, credentials, n),
                    WHATSAPP_COUNT,
                )
            finally:
                whatsapp.close()
            print(f"\nTwilio WhatsApp, {workers} threads: {WHATSAPP_COUNT} at {rate:,.0f} msg/s")
