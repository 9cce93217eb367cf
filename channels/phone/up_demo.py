"""Channels' part of `kiunga up`: the Africa's Talking and Twilio emulators in `up`'s process,
the demo ISP's channel settings pointed at them (see demo.py), the emulators' delivery-report
and status-callback addresses pointed at Kiunga, and the banner's lines: the USSD code, its
callback address with a curl that opens a session in AT's form encoding, and the Phone page."""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass

from kiunga.channels.phone.demo import DemoChannels, seed_demo_channels
from kiunga.platform.cli.up import DemoContext, console, on_usual_port_or_any
from kiunga.tenants.mpesa.demo import DEMO_PHONE

AT_PORT = 8091
TWILIO_PORT = 8092


@dataclass(frozen=True)
class ChannelsUp:
    at_url: str
    twilio_url: str
    seeded: DemoChannels | None  # None when seeding failed (the demo goes on without it)


def _start(emulators: list, name: str, port: int, make):
    try:
        server = on_usual_port_or_any(port, lambda chosen: make(chosen).start())
    except (OSError, RuntimeError) as exc:
        console.print(f"[yellow]{name} emulator not started: {exc}[/yellow]")
        return None
    emulators.append(server)
    return server


def point_emulators_at_kiunga(at, twilio, seeded: DemoChannels) -> None:
    """The demo accounts' delivery reports and status callbacks go to the demo ISP's
    callback addresses (as an ISP sets them in AT's and Twilio's dashboards)."""
    from kiunga.integrations.africastalking.emulator import (
        DEMO_API_KEY,
        DEMO_SENDER_ID,
        DEMO_SHORTCODE,
        DEMO_USERNAME,
        Account,
    )
    from kiunga.integrations.twilio.emulator import (
        DEMO_ACCOUNT_SID,
        DEMO_AUTH_TOKEN,
        DEMO_WHATSAPP_FROM,
        TwilioAccount,
    )

    at.state.add_account(
        Account(
            DEMO_USERNAME,
            DEMO_API_KEY,
            sender_ids=[DEMO_SENDER_ID],
            shortcodes=[DEMO_SHORTCODE],
            delivery_report_url=seeded.callbacks.delivery,
        )
    )
    twilio.state.add_account(
        TwilioAccount(
            DEMO_ACCOUNT_SID,
            DEMO_AUTH_TOKEN,
            whatsapp_senders=[DEMO_WHATSAPP_FROM],
            status_callback_url=seeded.callbacks.whatsapp_status,
        )
    )


def seed(demo: DemoContext) -> ChannelsUp | None:
    from kiunga.integrations.africastalking.emulator import AfricasTalkingEmulator
    from kiunga.integrations.twilio.emulator import TwilioEmulator

    at = _start(
        demo.emulators,
        "Africa's Talking",
        AT_PORT,
        lambda port: AfricasTalkingEmulator("127.0.0.1", port, delivery_delay=0.5),
    )
    twilio = _start(
        demo.emulators,
        "Twilio",
        TWILIO_PORT,
        lambda port: TwilioEmulator("127.0.0.1", port, status_delay=0.5),
    )
    if at is None or twilio is None:
        return None
    try:
        seeded = asyncio.run(
            seed_demo_channels(
                demo.database_url,
                demo.slug,
                at_url=at.url,
                twilio_url=twilio.url,
                public_url=demo.settings.public_url,
            )
        )
    except Exception as exc:  # the demo goes on without channels; say why
        console.print(f"[yellow]Channels demo not set up: {type(exc).__name__}: {exc}[/yellow]")
        return ChannelsUp(at.url, twilio.url, None)
    point_emulators_at_kiunga(at, twilio, seeded)
    return ChannelsUp(at.url, twilio.url, seeded)


def ussd_curl(callback_url: str, service_code: str, phone: str) -> str:
    """A curl that opens a USSD session as Africa's Talking does: a form POST, text empty."""
    fields = [
        f"serviceCode={service_code}",
        f"phoneNumber={phone}",
        "networkCode=63902",
        "text=",
    ]
    encoded = " ".join(f"--data-urlencode {shlex.quote(field)}" for field in fields)
    # A new session each time it is run (a repeated sessionId and text is a retry).
    session = '--data-urlencode "sessionId=ATUid_demo$(date +%s)"'
    return f"curl -X POST {callback_url} {session} {encoded}"


def _story(demo: DemoContext) -> str:
    """The demo story's steps on the Phone page, told as the M-Pesa demo left DEMO1."""
    mpesa = getattr(demo.made.get("mpesa"), "seeded", None)
    if mpesa is None:
        return "  (No M-Pesa demo: paying from the phone needs the Daraja emulator.)\n"
    if mpesa.lapsed:
        return (
            f"  The demo story there: {mpesa.account_number} is lapsed. Dial, then 2 (Pay), "
            "1 (the amount due), 1 (Confirm):\n"
            "  the END screen; a moment later the Daraja emulator's customer accepts the "
            "M-Pesa prompt,\n"
            "  the service comes back and the receipt SMS arrives in the page's messages.\n"
        )
    return (
        f"  {mpesa.account_number} is paid up: dial and pay ahead (2, Pay); the Daraja "
        "emulator's customer accepts\n"
        "  and the receipt SMS arrives in the page's messages.\n"
    )


def banner(demo: DemoContext) -> str:
    made: ChannelsUp | None = demo.made.get("phone")
    if made is None or made.seeded is None:
        return ""
    seeded = made.seeded
    return (
        f"Channels: USSD {seeded.ussd_code}; SMS to shortcode {seeded.shortcode}, replies "
        f"from {seeded.sender_id}; WhatsApp {seeded.whatsapp_from}.\n"
        f"  Africa's Talking emulator at {made.at_url}, Twilio emulator at {made.twilio_url}.\n"
        f"  USSD callback (AT's form POST): {seeded.callbacks.ussd}\n"
        "  Open a USSD session as Africa's Talking does (answered with the first CON screen):\n"
        f"  {ussd_curl(seeded.callbacks.ussd, seeded.ussd_code, DEMO_PHONE)}\n"
        f"  Phone page: {demo.url}/phone (signed in as the owner above). It dials, texts and\n"
        f"  WhatsApps as {DEMO_PHONE} and shows what Kiunga sends that phone (/me's code too).\n"
        f"{_story(demo)}"
    )
