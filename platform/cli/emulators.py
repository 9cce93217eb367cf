"""`kiunga emulator …`: local stand-ins for outside systems, speaking their real protocols."""

from __future__ import annotations

from typing import Annotated

import typer
from kiunga.platform.cli.common import console

emulator_app = typer.Typer(
    name="emulator",
    help="Run a local emulator of an outside system (for development and demos).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(emulator_app, name="emulator")


@emulator_app.command("daraja")
def daraja_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=1, help="Port.")] = 8089,
    apps: Annotated[
        str | None,
        typer.Option(
            "--apps",
            help="JSON file (or JSON text) of extra Daraja apps "
            "[default: KIUNGA_DARAJA_EMULATOR_APPS].",
        ),
    ] = None,
    callback_delay: Annotated[
        float,
        typer.Option("--callback-delay", min=0.0, help="Seconds before STK callbacks are sent."),
    ] = 1.0,
) -> None:
    """Serve a Safaricom Daraja (M-Pesa) emulator: OAuth, STK push, C2B, Transaction Status."""
    from kiunga.integrations.mpesa.emulator import (
        DEMO_CONSUMER_KEY,
        DEMO_CONSUMER_SECRET,
        DEMO_PASSKEY,
        DEMO_SHORTCODE,
        run_emulator,
    )

    console.print(f"Daraja emulator on http://{host}:{port}")
    console.print(
        f"demo app: consumer key {DEMO_CONSUMER_KEY}, secret {DEMO_CONSUMER_SECRET}, "
        f"paybill {DEMO_SHORTCODE}, passkey {DEMO_PASSKEY}"
    )
    console.print("control endpoints under /emulator (log at GET /emulator/log)")
    run_emulator(host, port, apps_source=apps, callback_delay=callback_delay)


@emulator_app.command("africastalking")
def africastalking_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=1, help="Port.")] = 8091,
    delivery_delay: Annotated[
        float,
        typer.Option("--delivery-delay", min=0.0, help="Seconds before delivery reports."),
    ] = 0.5,
) -> None:
    """Serve an Africa's Talking emulator: the SMS API, delivery reports, and USSD and
    incoming-SMS callbacks sent on request (control endpoints under /emulator)."""
    from kiunga.integrations.africastalking.emulator import (
        DEMO_API_KEY,
        DEMO_SENDER_ID,
        DEMO_SHORTCODE,
        DEMO_USERNAME,
        run_emulator,
    )

    console.print(f"Africa's Talking emulator on http://{host}:{port}")
    console.print(
        f"demo app: username {DEMO_USERNAME}, API key {DEMO_API_KEY}, "
        f"sender id {DEMO_SENDER_ID}, shortcode {DEMO_SHORTCODE}"
    )
    run_emulator(host, port, delivery_delay=delivery_delay)


@emulator_app.command("twilio")
def twilio_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=1, help="Port.")] = 8092,
    status_delay: Annotated[
        float,
        typer.Option("--status-delay", min=0.0, help="Seconds between status callbacks."),
    ] = 0.5,
) -> None:
    """Serve a Twilio emulator for WhatsApp: the Messages API, signed status callbacks, and
    signed inbound webhooks sent on request (control endpoints under /emulator)."""
    from kiunga.integrations.twilio.emulator import (
        DEMO_ACCOUNT_SID,
        DEMO_AUTH_TOKEN,
        DEMO_WHATSAPP_FROM,
        run_emulator,
    )

    console.print(f"Twilio emulator on http://{host}:{port}")
    console.print(
        f"demo account: SID {DEMO_ACCOUNT_SID}, auth token {DEMO_AUTH_TOKEN}, "
        f"WhatsApp sender {DEMO_WHATSAPP_FROM}"
    )
    run_emulator(host, port, status_delay=status_delay)


@emulator_app.command("routeros")
def routeros_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, help="Port (0: any free one).")
    ] = 8728,
    user: Annotated[str, typer.Option("--user", help="API username.")] = "admin",
    password: Annotated[str, typer.Option("--password", help="API password.")] = "",
    identity: Annotated[str, typer.Option("--identity", help="The router's name.")] = "MikroTik",
    tls: Annotated[
        bool, typer.Option("--tls", help="Serve api-ssl with a self-signed certificate.")
    ] = False,
    empty_replies: Annotated[
        bool,
        typer.Option(
            "--empty-replies/--no-empty-replies",
            help="Answer an empty print with !empty (RouterOS 7.18+).",
        ),
    ] = True,
) -> None:
    """Serve one emulated MikroTik router: the RouterOS API (hotspot, PPP, queues, lists)."""
    from kiunga.integrations.routeros.emulator import RouterEmulator, run_emulator

    def ready(router: RouterEmulator) -> None:
        scheme = "api-ssl" if router.tls else "api"
        console.print(
            f"RouterOS {scheme} emulator '{identity}' on {router.host}:{router.port} (user {user})"
        )

    run_emulator(
        host,
        port,
        username=user,
        password=password,
        tls=tls,
        identity=identity,
        empty_replies=empty_replies,
        on_ready=ready,
    )


@emulator_app.command("hotspot")
def hotspot_command(
    login_html: Annotated[
        str,
        typer.Option(
            "--login-html",
            help="Where the router gets its login.html: the ISP portal's "
            "http(s)://<ISP host>/portal/router/login.html.",
        ),
    ],
    radius_host: Annotated[str, typer.Option("--radius-host", help="RADIUS server.")] = (
        "127.0.0.1"
    ),
    auth_port: Annotated[int, typer.Option("--auth-port", min=1, help="Its auth port.")] = 1812,
    acct_port: Annotated[
        int, typer.Option("--acct-port", min=1, help="Its accounting port.")
    ] = 1813,
    secret: Annotated[str, typer.Option("--secret", help="The RADIUS shared secret.")] = "",
    nas_ip: Annotated[
        str, typer.Option("--nas-ip", help="NAS-IP-Address the router sends.")
    ] = "127.0.0.1",
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, help="Port (0: any).")] = 8090,
) -> None:
    """Serve an emulated MikroTik hotspot: the login page a phone sees (the ISP's
    login.html), link-login-only, and the RADIUS Access and Accounting a router sends."""
    from kiunga.integrations.routeros.emulator.hotspot import HotspotEmulator

    hotspot = HotspotEmulator(
        login_html_url=login_html,
        radius_host=radius_host,
        auth_port=auth_port,
        acct_port=acct_port,
        secret=secret.encode(),
        nas_ip=nas_ip,
        host=host,
        port=port,
    )
    console.print(
        f"Hotspot emulator on http://{host}:{port}/login (RADIUS {radius_host}:{auth_port})"
    )
    hotspot.serve_forever()
