"""M-Pesa's part of `kiunga up`: a Daraja emulator in `up`'s process, the demo ISP's
paybill pointed at it (see demo.py), and the banner's lines on how to pay."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from kiunga.platform.cli.up import DemoContext, console, on_usual_port_or_any
from kiunga.tenants.mpesa.demo import DemoMpesa, seed_demo_mpesa

EMULATOR_PORT = 8089


@dataclass(frozen=True)
class MpesaUp:
    emulator_port: int
    seeded: DemoMpesa | None  # None when seeding failed (the demo goes on without it)


def _start_daraja(emulators: list):
    """The Daraja emulator in this process; None (and a warning) if it cannot start."""
    from kiunga.integrations.mpesa.emulator import EmulatorServer

    try:
        daraja = on_usual_port_or_any(
            EMULATOR_PORT, lambda port: EmulatorServer("127.0.0.1", port).start()
        )
    except (OSError, RuntimeError) as exc:
        console.print(f"[yellow]Daraja emulator not started: {exc}[/yellow]")
        return None
    emulators.append(daraja)
    return daraja


def _seed_demo_mpesa(database_url: str, slug: str, emulator_url: str):
    """The demo ISP's M-Pesa on the emulator; None (and a warning) if that fails, since the
    rest of the demo works without it."""
    try:
        return asyncio.run(seed_demo_mpesa(database_url, slug, emulator_url))
    except Exception as exc:  # the demo goes on without M-Pesa; say why
        console.print(f"[yellow]M-Pesa demo not set up: {type(exc).__name__}: {exc}[/yellow]")
        return None


def seed(demo: DemoContext) -> MpesaUp | None:
    daraja = _start_daraja(demo.emulators)
    if daraja is None:
        return None
    return MpesaUp(daraja.port, _seed_demo_mpesa(demo.database_url, demo.slug, daraja.url))


def banner(demo: DemoContext) -> str:
    made: MpesaUp | None = demo.made.get("mpesa")
    if made is None or made.seeded is None:
        return ""
    mpesa = made.seeded
    emulator = f"http://127.0.0.1:{made.emulator_port}"
    body = (
        f'{{"shortcode": "{mpesa.shortcode}", "amount": {mpesa.amount_shillings}, '
        f'"msisdn": "{mpesa.msisdn}", "bill_ref_number": "{mpesa.account_number}"}}'
    )
    registered = "" if mpesa.registered else f"  (C2B URLs not registered: {mpesa.message})\n"
    if mpesa.lapsed:
        state = f"Subscriber {mpesa.account_number} is lapsed; pay for it as a customer would"
    else:
        until = f" until {mpesa.paid_until:%Y-%m-%d %H:%M} UTC" if mpesa.paid_until else ""
        state = (
            f"Subscriber {mpesa.account_number} is paid up (active{until});\n"
            "  pay for another period as a customer would"
        )
    return (
        f"M-Pesa: the demo ISP's paybill {mpesa.shortcode} is on a Daraja emulator at {emulator}.\n"
        f"{registered}"
        f"  {state}:\n"
        f"  curl -X POST {emulator}/emulator/c2b/pay -H 'Content-Type: application/json' "
        f"-d '{body}'\n"
        "  then watch its service come back (Services, M-Pesa in the console).\n"
    )
