"""`kiunga emulator africastalking` and `kiunga emulator twilio`: each serves its emulator
in a process of its own, which the official SDKs reach."""

from __future__ import annotations

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


@contextmanager
def served(name: str, *options: str):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [str(KIUNGA), "emulator", name, "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
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
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{name} did not start: {process.stdout.read()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_the_africastalking_command_serves_the_sms_api():
    with served("africastalking", "--delivery-delay", "0") as url:
        sms = AfricasTalkingSms(max_workers=2)
        try:
            sent = await sms.send(
                AtCredentials(DEMO_USERNAME, DEMO_API_KEY, base_url=url),
                to="+254711000501",
                message="Habari",
                sender_id="KIUNGA",
            )
        finally:
            sms.close()
        assert sent.accepted


async def test_the_twilio_command_serves_the_messages_api():
    with served("twilio") as url:
        whatsapp = TwilioWhatsApp(max_workers=2)
        try:
            sent = await whatsapp.send(
                TwilioCredentials(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, base_url=url),
                from_=DEMO_WHATSAPP_FROM,
                to="+254711000502",
                content_sid=DEMO_TEMPLATE_SID,
                content_variables={"1": "Habari"},
            )
        finally:
            whatsapp.close()
        assert sent.sid.startswith("SM")
