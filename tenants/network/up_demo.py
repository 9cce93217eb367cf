"""The network's part of `kiunga up`: `kiunga radius` as a child process on the ports the
settings name, a RouterOS emulator for the demo router (provisioned over its API), the demo
network seeded (see demo.py), and a hotspot (the Demo NAS) whose login page is the demo
ISP's own login.html and which asks Kiunga's RADIUS."""

from __future__ import annotations

import asyncio
import re
import subprocess
from dataclasses import dataclass

import typer
from kiunga.platform.cli.up import (
    READY_TIMEOUT_SECONDS,
    DemoContext,
    ReadyLine,
    connect_host,
    console,
    on_usual_port_or_any,
    operator_set,
    start_child,
    stop_children,
)
from kiunga.platform.settings import ENV_PREFIX, Settings

ROUTEROS_PORT = 8728
HOTSPOT_PORT = 8090
# What `kiunga radius` prints once it answers (its ports, also when it picked them).
RADIUS_READY = re.compile(r"authentication (\d+), accounting (\d+)")


class RadiusStart:
    """`kiunga radius` on the ports the settings name. Its ready line (read from its
    output, which is passed on) says it answers and on which ports; when it cannot listen
    there, `up` stops naming the settings, or, where the operator set neither, starts it
    again on any free ports."""

    def __init__(self, settings: Settings, children: dict[str, subprocess.Popen]) -> None:
        self.host = settings.radius_host
        self.children = children
        self.set_by_operator = [
            f"{ENV_PREFIX}{name}"
            for name in ("RADIUS_AUTH_PORT", "RADIUS_ACCT_PORT")
            if operator_set(name)
        ]
        self.wanted = (settings.radius_auth_port, settings.radius_acct_port)
        self._start(*self.wanted)

    def _start(self, auth_port: int, acct_port: int) -> None:
        self.child = start_child(
            ["radius", "--host", self.host, "--auth-port", str(auth_port),
             "--acct-port", str(acct_port)],
            capture=True,
        )  # fmt: skip
        self.children["RADIUS"] = self.child
        self._ready = ReadyLine(self.child, RADIUS_READY)

    def ports(self) -> tuple[int, int]:
        """The ports it answers on, once it does."""
        found = self._ready.wait(READY_TIMEOUT_SECONDS)
        if found is None and not self.set_by_operator:
            stop_children({"RADIUS": self.child})
            self._start(0, 0)  # its usual ports are taken: any free ones will do
            found = self._ready.wait(READY_TIMEOUT_SECONDS)
        if found is None:
            names = self.set_by_operator or [
                f"{ENV_PREFIX}RADIUS_AUTH_PORT",
                f"{ENV_PREFIX}RADIUS_ACCT_PORT",
            ]
            settings = " / ".join(names)
            console.print(
                f"[red]error:[/red] RADIUS did not start on {self.host} ports "
                f"{self.wanted[0]}/{self.wanted[1]} (taken?): set {settings} to free ports"
            )
            raise typer.Exit(2)
        return int(found.group(1)), int(found.group(2))

    @property
    def connect_host(self) -> str:
        return connect_host(self.host)


@dataclass(frozen=True)
class NetworkDemo:
    routeros_port: int
    auth_port: int
    acct_port: int
    seeded: object  # tenants.network.demo.DemoNetwork, or None when seeding failed
    hotspot_port: int | None = None


def seed(demo: DemoContext) -> RadiusStart:
    # Started before the API and the worker: it loads its cache while they start.
    return RadiusStart(demo.settings, demo.children)


def start(demo: DemoContext) -> NetworkDemo:
    from kiunga.integrations.routeros.emulator import RouterEmulator
    from kiunga.integrations.routeros.emulator.hotspot import HotspotEmulator
    from kiunga.tenants.network.demo import (
        DEMO_RADIUS_SECRET,
        DEMO_ROUTER_PASSWORD,
        DEMO_ROUTER_USER,
        seed_demo_network,
    )

    radius: RadiusStart = demo.made["network"]
    router = on_usual_port_or_any(
        ROUTEROS_PORT,
        lambda port: RouterEmulator(
            "127.0.0.1", port, username=DEMO_ROUTER_USER, password=DEMO_ROUTER_PASSWORD,
            identity="Demo router",
        ).start(),
    )  # fmt: skip
    demo.emulators.append(router)
    seeded = None
    try:
        seeded = asyncio.run(seed_demo_network(demo.database_url, demo.slug, router.port))
    except Exception as exc:  # the demo goes on without its network; say why
        console.print(f"[yellow]Network demo not set up: {type(exc).__name__}: {exc}[/yellow]")
    auth_port, acct_port = radius.ports()
    hotspot = on_usual_port_or_any(
        HOTSPOT_PORT,
        lambda port: HotspotEmulator(
            login_html_url=f"{demo.url}/portal/router/login.html",
            radius_host=radius.connect_host, auth_port=auth_port, acct_port=acct_port,
            secret=DEMO_RADIUS_SECRET.encode(), port=port,
        ).start(),
    )  # fmt: skip
    demo.emulators.append(hotspot)
    return NetworkDemo(router.port, auth_port, acct_port, seeded, hotspot.port)


def banner(demo: DemoContext) -> str:
    network: NetworkDemo | None = demo.made.get("network")
    if not isinstance(network, NetworkDemo) or network.seeded is None:
        return ""
    mpesa = getattr(demo.made.get("mpesa"), "seeded", None)
    seeded = network.seeded
    lines = (
        f"Network: 'Demo router' is a RouterOS emulator at 127.0.0.1:{network.routeros_port}, "
        "provisioned over its API;\n"
        f"  'Demo NAS' (127.0.0.1) asks Kiunga's RADIUS at 127.0.0.1:{network.auth_port} "
        f"(accounting {network.acct_port}).\n"
    )
    if seeded.pppoe_username and seeded.pppoe_password:
        if mpesa is not None and not mpesa.lapsed:
            state = "Its service is active: the subscriber's PPPoE login is accepted"
        elif mpesa is not None:
            state = "The lapsed subscriber's PPPoE login is refused until the payment above"
        else:
            state = "The subscriber's PPPoE login is refused while lapsed"
        lines += (
            f"  {state}, then\n"
            "  accepted with the package's speed (radtest is in Debian's freeradius-utils):\n"
            f"  radtest {seeded.pppoe_username} {seeded.pppoe_password} "
            f"127.0.0.1:{network.auth_port} 0 {seeded.radius_secret}\n"
        )
    return lines
