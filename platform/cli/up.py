"""`kiunga up`: the whole system for development, in one command.

Services (embedded PostgreSQL and Valkey unless URLs are configured), migrations, a demo
ISP, then the API (`kiunga serve`), the worker (`kiunga worker`) and Kiunga's RADIUS server
(`kiunga radius`) as child processes until Ctrl-C or SIGTERM, after which the children are
stopped and the embedded services released. The outside systems are emulators served from
this process: a Daraja (M-Pesa) emulator the demo ISP's M-Pesa points at, so that a paybill
payment can be simulated with one curl; a RouterOS emulator that Kiunga provisions; and a
MikroTik hotspot (the demo NAS) that asks Kiunga's RADIUS server.

Ports are never checked and then bound later, when another program may have taken them:
the API's port (KIUNGA_HOST, KIUNGA_PORT) is bound here first and its socket handed to
`kiunga serve`; RADIUS is started on KIUNGA_RADIUS_AUTH_PORT / KIUNGA_RADIUS_ACCT_PORT and
`up` stops, naming the setting, when it cannot listen there (when they are not set, on any
free ports instead of 1812/1813); an emulator is bound on its usual port, or on any free one
when that is taken, and the demo's records that point at it follow.

The kernel's part is the services, the migrations, the demo ISP and its owner, the API and
the worker; the areas add theirs (a paybill on the Daraja emulator, the demo router,
RADIUS and hotspot, vouchers) through the `demo` of their manifests, given a `DemoContext`
and the helpers below for child processes and emulators.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import typer
from kiunga.platform.areas import assemble
from kiunga.platform.cli.common import console, load_settings_or_exit, services_or_exit
from kiunga.platform.devservices import release_services
from kiunga.platform.settings import ENV_PREFIX, Settings
from rich.console import Console

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Wireless"
DEMO_OWNER_EMAIL = "owner@demo.example"
# Development only, and printed on every start: the point is that anyone can log in.
DEMO_OWNER_PASSWORD = "demo-owner-pass"
DEMO_ADMIN_EMAIL = "admin@platform.example"
DEMO_ADMIN_PASSWORD = "demo-admin-pass"

READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15
PR_SET_PDEATHSIG = 1

output = Console(soft_wrap=True)


class Shutdown(Exception):
    """SIGTERM or SIGHUP arrived: stop like Ctrl-C does."""


def register(app: typer.Typer) -> None:
    app.command("up")(up_command)


def up_command() -> None:
    """Start everything for development: services, migrations, a demo ISP, API and worker."""
    settings = load_settings_or_exit()
    if settings.is_production:
        console.print("[red]error:[/red] `kiunga up` is for development; use serve and worker")
        raise typer.Exit(2)
    api_socket = _listen_for_the_api(settings)  # the port is ours from here on

    _raise_on_termination_signals()
    children: dict[str, subprocess.Popen] = {}
    emulators: list = []
    exit_code = 0
    steps = [(area.name, area.demo) for area in assemble().areas if area.demo is not None]
    try:
        urls = services_or_exit(settings)
        _migrate_everything(urls.database_url, settings)
        demo = seed_demo(urls.database_url, settings.base_domain)
        context = DemoContext(settings, urls.database_url, demo.host, children, emulators)
        for name, step in steps:
            if step.seed is not None:
                context.made[name] = step.seed(context)
        children["api"] = start_child(
            ["serve", "--fd", str(api_socket.fileno())], pass_fds=(api_socket.fileno(),)
        )
        api_socket.close()
        children["worker"] = start_child(["worker"])
        for name, step in steps:
            if step.start is not None:
                context.made[name] = step.start(context)
        if _wait_until_answering(_api_url(settings), children["api"]):
            banners = "".join(step.banner(context) for _, step in steps if step.banner)
            _print_banner(settings, demo, banners)
        exit_code = _supervise(children)
    except (KeyboardInterrupt, Shutdown):
        console.print("Stopping…")
    finally:
        _ignore_termination_signals()  # a second Ctrl-C must not cut the cleanup short
        api_socket.close()
        if children or emulators:
            console.print("Stopping the API, the worker, RADIUS and the emulators…")
        stop_children(children)
        for emulator in emulators:
            emulator.stop()
        console.print("Releasing the embedded services…")
        release_services()
        console.print("Stopped.")
    raise typer.Exit(exit_code)


# ------------------------------------------------------------------------ startup steps


def _migrate_everything(database_url: str, settings: Settings) -> None:
    from kiunga.platform.migrate import migrate

    console.print("Migrating the platform schema and every tenant…")
    report = migrate(database_url, concurrency=settings.migrate_concurrency)
    console.print(
        f"{report.total} tenant(s): {len(report.upgraded)} migrated, "
        f"{report.skipped} already at head, {len(report.failed)} failed"
    )
    if not report.ok:
        for failure in report.failed:
            console.print(f"[red]failed:[/red] {failure.slug}: {failure.error}")
        console.print("Fix the migration (or run `kiunga migrate -v` for details) and retry.")
        raise typer.Exit(1)


@dataclass(frozen=True)
class Demo:
    host: str
    owner_email: str
    # None when the owner changed the password since the demo was seeded.
    owner_password: str | None
    created_now: bool
    admin_email: str = DEMO_ADMIN_EMAIL
    admin_password: str | None = None


@dataclass
class DemoContext:
    """What an area's demo step is given. `made` holds what earlier steps returned, by
    area name (a `start` step's result replaces its `seed` step's)."""

    settings: Settings
    database_url: str
    host: str  # the demo ISP's host
    children: dict[str, subprocess.Popen]
    emulators: list  # each with stop(), stopped when `up` ends
    made: dict[str, Any] = field(default_factory=dict)
    slug: str = DEMO_SLUG

    @property
    def url(self) -> str:
        """The demo ISP's console (and portal) as a browser or a phone reaches it."""
        return f"http://{self.host}:{self.settings.port}"


def seed_demo(database_url: str, base_domain: str) -> Demo:
    """The demo ISP and its owner; a second run finds them and changes nothing."""
    from kiunga.platform.auth.passwords import verify_password
    from kiunga.platform.db.engine import sync_engine
    from kiunga.platform.models import StaffAccount, Tenant, TenantDomain
    from kiunga.platform.staff_admin import ensure_platform_admin
    from kiunga.platform.tenant_admin import TenantExists, create_tenant
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    engine = sync_engine(database_url, pool_size=1, max_overflow=0)
    try:
        created_now = False
        with Session(engine) as session:
            exists = session.scalar(select(Tenant.id).where(Tenant.slug == DEMO_SLUG))
        if exists is None:
            try:
                create_tenant(
                    engine,
                    slug=DEMO_SLUG,
                    name=DEMO_NAME,
                    owner_email=DEMO_OWNER_EMAIL,
                    owner_password=DEMO_OWNER_PASSWORD,
                    base_domain=base_domain,
                )
                created_now = True
            except TenantExists:
                pass  # another `kiunga up` on the same database seeded it a moment ago
        ensure_platform_admin(engine, DEMO_ADMIN_EMAIL, password=DEMO_ADMIN_PASSWORD)
        with Session(engine) as session:
            host = session.scalar(
                select(TenantDomain.host)
                .join(Tenant)
                .where(Tenant.slug == DEMO_SLUG)
                .order_by(TenantDomain.is_primary.desc(), TenantDomain.id)
            )
            password_hash = session.scalar(
                select(StaffAccount.password_hash).where(StaffAccount.email == DEMO_OWNER_EMAIL)
            )
            admin_hash = session.scalar(
                select(StaffAccount.password_hash).where(StaffAccount.email == DEMO_ADMIN_EMAIL)
            )
    finally:
        engine.dispose()
    still_default = password_hash is not None and verify_password(
        password_hash, DEMO_OWNER_PASSWORD
    )
    return Demo(
        host=host or f"{DEMO_SLUG}.{base_domain}",
        owner_email=DEMO_OWNER_EMAIL,
        owner_password=DEMO_OWNER_PASSWORD if still_default else None,
        created_now=created_now,
        admin_password=DEMO_ADMIN_PASSWORD
        if admin_hash and verify_password(admin_hash, DEMO_ADMIN_PASSWORD)
        else None,
    )


# ------------------------------------------------------------------------ child processes


def _kiunga_command(arguments: list[str]) -> list[str]:
    """The same installation's `kiunga`, whichever way this one was started."""
    script = Path(sys.executable).with_name("kiunga")
    if script.exists():
        return [str(script), *arguments]
    return [sys.executable, "-c", "from kiunga.platform.cli import main; main()", *arguments]


def _die_with_parent():
    """A pre-exec hook asking Linux to SIGTERM the child when we die, even by SIGKILL, so
    that no API or worker is left running without its supervisor."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork, not in the child
    parent = os.getpid()

    def hook() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return hook


def start_child(
    arguments: list[str], *, pass_fds: tuple[int, ...] = (), capture: bool = False
) -> subprocess.Popen:
    """`capture`: its output comes to us by a pipe, line by line, to be read and passed on."""
    # A process group of its own: Ctrl-C reaches only us, and we stop the children in
    # order, instead of every process receiving SIGINT at once.
    return subprocess.Popen(
        _kiunga_command(arguments),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"} if capture else None,
        text=capture,
        pass_fds=pass_fds,
        process_group=0,
        preexec_fn=_die_with_parent(),
    )


def _supervise(children: dict[str, subprocess.Popen]) -> int:
    """Wait until a child exits by itself; then the others are stopped too."""
    while True:
        for name, child in children.items():
            code = child.poll()
            if code is not None:
                console.print(f"[red]the {name} stopped (exit code {code}); stopping[/red]")
                return code or 1
        time.sleep(0.2)


def stop_children(children: dict[str, subprocess.Popen]) -> None:
    running = [child for child in children.values() if child.poll() is None]
    for child in running:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in running:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            console.print(f"[yellow]pid {child.pid} ignored SIGTERM; killing it[/yellow]")
            _signal_group(child, signal.SIGKILL)
            child.wait()


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)  # the group: anything the child started goes too
    except ProcessLookupError:
        pass


def _raise_on_termination_signals() -> None:
    def stop(signum, frame):
        raise Shutdown(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)


def _ignore_termination_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


# ------------------------------------------------------------------------ readiness, banner


def _listen_for_the_api(settings: Settings) -> socket.socket:
    """The API's socket, bound and listening before anything else starts; `kiunga serve`
    inherits it. Taken: `up` stops and says which settings choose it."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    try:
        return socket.create_server((settings.host, settings.port), family=family, backlog=128)
    except OSError as exc:
        console.print(
            f"[red]error:[/red] cannot listen on {settings.host}:{settings.port} "
            f"({exc.strerror or exc}; another `kiunga up`?): set {ENV_PREFIX}PORT "
            f"(and {ENV_PREFIX}HOST) to a free port"
        )
        raise typer.Exit(2) from None


def operator_set(name: str) -> bool:
    return bool(os.environ.get(ENV_PREFIX + name, "").strip())


def connect_host(host: str) -> str:
    return "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host


def _api_url(settings: Settings) -> str:
    host = connect_host(settings.host)
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}/healthz"


def _wait_until_answering(url: str, child: subprocess.Popen) -> bool:
    """The socket listens from the start, so only an answer says the API is serving."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline and child.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.1)
    return False


Server = TypeVar("Server")


def on_usual_port_or_any(usual: int, start: Callable[[int], Server]) -> Server:
    """An emulator started on its usual port, or on any free one when that is taken. The
    bind itself is the test, so nothing can take the port between a check and the use."""
    try:
        return start(usual)
    except (OSError, RuntimeError):
        return start(0)


class ReadyLine:
    """Passes a child's output on, line by line, watching for the line that says it is
    ready."""

    def __init__(self, child: subprocess.Popen, pattern: re.Pattern) -> None:
        self.child, self.pattern = child, pattern
        self.match: re.Match | None = None
        self._seen = threading.Event()
        threading.Thread(target=self._pass_on, daemon=True).start()

    def _pass_on(self) -> None:
        for line in self.child.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if self.match is None and (found := self.pattern.search(line)):
                self.match = found
                self._seen.set()
        self._seen.set()  # ended without it

    def wait(self, timeout: float) -> re.Match | None:
        self._seen.wait(timeout)
        return self.match


def _print_banner(settings: Settings, demo: Demo, banners: str = "") -> None:
    address = "127.0.0.1" if settings.host in {"0.0.0.0", "::", ""} else settings.host
    url = f"http://{demo.host}:{settings.port}"
    password = demo.owner_password or "(changed since it was seeded; not shown)"
    seeded = "created" if demo.created_now else "already there"
    admin_password = demo.admin_password or "(changed since it was seeded; not shown)"
    output.print(
        f"\nKiunga is up. Demo ISP {DEMO_NAME!r} ({seeded}):\n"
        f"  console  {url}/\n"
        f"  login    {demo.owner_email} / {password}\n"
        f"  curl     curl -H 'Host: {demo.host}' http://{address}:{settings.port}/login\n"
        f"Platform console (all ISPs): http://{settings.base_domain}:{settings.port}/\n"
        f"  login    {demo.admin_email} / {admin_password}\n"
        f"{banners}"
        "Browsers resolve *.localhost to this machine; for other base domains use the Host\n"
        "header as above. Ctrl-C stops the API, the worker, RADIUS, the emulators and the\n"
        "embedded services.\n",
        highlight=False,
        markup=False,
    )
