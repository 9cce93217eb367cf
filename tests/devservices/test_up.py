"""`kiunga up` on embedded services in a private data directory: it seeds the demo ISP once,
serves it on the ports its settings name (RADIUS included) and on other ones where an
emulator's usual port is taken, even when the API's port is sought by another program
while it starts, stops everything on SIGTERM, tells the demo subscriber's real state on a
second start, and its children die with it even after a SIGKILL. Its banner's channels
lines hold: the demo ISP's USSD code, the callback address and a curl that (run as printed)
answers the first CON screen, and the Phone page; a second start seeds no channel twice."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import psycopg
import pytest
from kiunga.platform.db.engine import libpq_url
from kiunga.platform.devservices import EmbeddedPostgres, EmbeddedValkey

pytestmark = pytest.mark.slow

BANNER_TIMEOUT_SECONDS = 120
# Its own bounds: children 15 s, PostgreSQL fast then immediate stop 50 s, Valkey 20 s.
STOP_TIMEOUT_SECONDS = 150


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def take(port: int) -> socket.socket | None:
    """Another program's listening socket on the port; None when one is there already."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except OSError:
        sock.close()
        return None
    return sock


def radclient_accounting(port: int, secret: str) -> str:
    """An Accounting-Request Start sent by Debian's radclient (freeradius-utils)."""
    request = (
        'User-Name = "nobody-here", Acct-Status-Type = Start, Acct-Session-Id = "UPTEST1", '
        "NAS-IP-Address = 127.0.0.1\n"
    )
    done = subprocess.run(
        ["radclient", "-r", "3", "-t", "5", f"127.0.0.1:{port}", "acct", secret],
        input=request, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.stdout + done.stderr


class Up:
    """A running `kiunga up`, its output collected line by line."""

    def __init__(self, data_dir: Path, port: int, **settings: str):
        self.port = port
        env = {key: value for key, value in os.environ.items() if not key.startswith("KIUNGA_")}
        env.update(
            KIUNGA_DATA_DIR=str(data_dir),
            KIUNGA_PORT=str(port),
            KIUNGA_ENV="development",
            KIUNGA_MIGRATE_CONCURRENCY="1",
            **settings,
        )
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("kiunga")), "up"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put("")

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + BANNER_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if text in line:
                return
            if line == "":
                break
        raise AssertionError(f"no {text!r} in the output of kiunga up:\n{self.output}")

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def api_and_worker(self) -> list[psutil.Process]:
        """The descendants but the Valkey server it may have started (which outlives it)."""
        return [p for p in self.descendants() if p.name() != "valkey-server"]

    def stop(self) -> int:
        """SIGTERM, then its exit code; the output is shown if it does not exit in time."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            tree = [f"{p.pid} {p.name()} {p.status()}" for p in self.descendants()]
            raise AssertionError(
                f"kiunga up still running {STOP_TIMEOUT_SECONDS} s after SIGTERM; "
                f"its descendants: {tree}\n{self.output}"
            ) from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def all_gone(processes: list[psutil.Process], timeout: float = 20) -> bool:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def get(port: int, host: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": host}, timeout=10)


def assert_the_hotspot_demo_works(up: Up) -> None:
    """The banner names the portal and an unused voucher of the demo agent's batch; the
    portal, opened with that code, shows the demo's look and the code filled in."""
    match = re.search(r"An unused code: (\w+) ", up.output)
    assert match and "/portal/" in up.output, up.output
    code = match.group(1)
    page = httpx.get(
        f"http://127.0.0.1:{up.port}/portal/",
        params={"code": code},
        headers={"Host": "demo.localhost"},
        timeout=10,
    )
    assert page.status_code == 200, page.text
    assert "Demo Wireless Hotspot" in page.text
    assert code in page.text
    assert "Hotspot 1 hour" in page.text
    # The demo hotspot (the Demo NAS) shows a phone the ISP's own login.html, which hands
    # the phone to the portal.
    hotspot = re.search(r"demo hotspot: (http://127\.0\.0\.1:\d+)/login", up.output)
    assert hotspot, up.output
    login = httpx.get(f"{hotspot.group(1)}/login", follow_redirects=True, timeout=10)
    assert login.status_code == 200, login.text
    assert f'action="http://demo.localhost:{up.port}/portal/login"' in login.text
    assert re.search(r'name="chap-challenge" value="(\\\d{3}){16}"', login.text), login.text


def assert_the_mpesa_demo_works(up: Up) -> None:
    """The Daraja emulator runs as a child, and the banner's paybill payment reaches the
    demo ISP: validated, confirmed, and its lapsed subscriber's service restored."""
    match = re.search(r"on a Daraja emulator at (http://[\d.:]+)\.", up.output)
    assert match, up.output
    emulator = match.group(1)
    apps = httpx.get(f"{emulator}/emulator/apps", timeout=10)
    assert apps.status_code == 200 and "174379" in apps.text
    assert "/emulator/c2b/pay" in up.output and "DEMO1" in up.output
    paid = httpx.post(
        f"{emulator}/emulator/c2b/pay",
        json={"shortcode": "174379", "amount": 1000, "msisdn": "254708374149",
              "bill_ref_number": "DEMO1"},
        timeout=30,
    )  # fmt: skip
    result = paid.json()
    assert result["registered"] and result["accepted"], result
    assert [c["response"]["ResultCode"] for c in result["confirmations"]] == ["0"], result


def radtest(command: str) -> str:
    """The banner's radtest line run as printed (Debian's freeradius-utils)."""
    done = subprocess.run(command.split(), capture_output=True, text=True, timeout=30)
    return done.stdout + done.stderr


def network_demo(up: Up) -> tuple[str, int]:
    """The banner's radtest command and the RouterOS emulator's port."""
    line = re.search(r"^\s*(radtest \S+ \S+ 127\.0\.0\.1:\d+ 0 \S+)$", up.output, re.M)
    port = re.search(r"RouterOS emulator at 127\.0\.0\.1:(\d+)", up.output)
    assert line and port, up.output
    return line.group(1), int(port.group(1))


def assert_radius_answers(command: str, expected: str, up: Up) -> str:
    """RADIUS (a child of kiunga up) answers the banner's radtest with `expected` within
    the authorizer's staleness bound."""
    deadline = time.monotonic() + 30
    answer = ""
    while time.monotonic() < deadline:
        answer = radtest(command)
        if expected in answer:
            return answer
        time.sleep(0.5)
    raise AssertionError(f"radtest never saw {expected}:\n{answer}\n{up.output}")


def assert_the_router_is_provisioned(port: int, username: str) -> None:
    """The worker provisions the demo router over the RouterOS API: the demo subscriber's
    PPP secret is there (disabled or not, it is marked as Kiunga's)."""
    from kiunga.integrations.routeros.client import RouterConnection, RouterOSClient

    async def secrets() -> list[dict]:
        connection = RouterConnection("127.0.0.1", "admin", "demo-router-pass", port=port)
        async with RouterOSClient(connection) as client:
            return await client.list("/ppp/secret")

    deadline = time.monotonic() + 60
    names: list = []
    while time.monotonic() < deadline:
        names = [row.get("name") for row in asyncio.run(secrets())]
        if username in names:
            return
        time.sleep(1)
    raise AssertionError(f"no PPP secret {username!r} on the demo router: {names}")


def channels_of(banner: str) -> dict[str, str]:
    code = re.search(r"^Channels: USSD (\S+);", banner, re.M)
    callback = re.search(r"USSD callback \(AT's form POST\): (\S+)$", banner, re.M)
    curl = re.search(r"^\s*(curl -X POST \S+/hooks/channels/\S+/ussd .*)$", banner, re.M)
    phone_page = re.search(r"Phone page: (\S+/phone) ", banner)
    assert code and callback and curl and phone_page, banner
    return {
        "code": code.group(1),
        "callback": callback.group(1),
        "curl": curl.group(1),
        "phone_page": phone_page.group(1),
    }


def assert_the_channels_demo_works(up: Up) -> dict[str, str]:
    """The banner's USSD code and callback; its curl, run as printed, opens a session; the
    Phone page is there (behind a sign-in)."""
    channels = channels_of(up.output)
    assert channels["code"] == "*483*57#"
    assert channels["callback"].startswith(f"http://127.0.0.1:{up.port}/hooks/channels/")
    assert channels["curl"].startswith(f"curl -X POST {channels['callback']} ")
    run = subprocess.run(
        ["sh", "-c", channels["curl"] + " -s"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("CON ") and "2. Pay" in run.stdout, run.stdout
    assert len(run.stdout) <= 182
    page = httpx.get(channels["phone_page"].replace("demo.localhost", "127.0.0.1"),
                     headers={"Host": f"demo.localhost:{up.port}"}, timeout=30)  # fmt: skip
    assert page.status_code in (302, 303) and "/login" in page.headers["location"]
    return channels


@pytest.fixture
def start_up(data_dir):
    started: list[Up] = []

    def start(**settings: str) -> Up:
        up = Up(data_dir, free_port(), **settings)
        started.append(up)
        return up

    yield start
    for up in started:
        up.kill()


def test_up_serves_the_demo_on_its_ports_and_a_second_up_tells_the_truth(start_up, data_dir):
    # The emulators' usual ports are taken by other programs (or already were).
    taken = {port: take(port) for port in (8728, 8089, 8090)}
    held = [sock for sock in taken.values() if sock is not None]
    auth_port, acct_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    try:
        up = start_up(
            KIUNGA_RADIUS_AUTH_PORT=str(auth_port), KIUNGA_RADIUS_ACCT_PORT=str(acct_port)
        )
        # While it migrates, another program seeks the API's port: it is `up`'s already.
        up.wait_for("Migrating the platform schema")
        intruder = take(up.port)
        assert intruder is None, "the API's port was free while kiunga up started"
        up.wait_for("Kiunga is up")
    finally:
        for sock in held:
            sock.close()
    assert "owner@demo.example / demo-owner-pass" in up.output
    assert "(created)" in up.output
    assert f"http://demo.localhost:{up.port}/" in up.output
    assert get(up.port, "demo.localhost").status_code != 404
    assert get(up.port, "nobody.localhost").status_code == 404
    command, routeros_port = network_demo(up)
    assert f"127.0.0.1:{auth_port} " in command, command
    assert f"(accounting {acct_port})" in up.output
    if taken[8728] is not None:
        # (When the port was not free to take, another copy of this suite may hold it
        # and let it go before `up` looks: nothing to conclude then.)
        assert routeros_port != 8728, "the RouterOS emulator is on a port another program holds"
    assert "is lapsed; pay for it" in up.output
    assert "Reply-Message" in assert_radius_answers(command, "Access-Reject", up)
    assert "Accounting-Response" in radclient_accounting(acct_port, command.split()[-1])
    assert_the_router_is_provisioned(routeros_port, command.split()[1])
    channels = assert_the_channels_demo_works(up)
    assert_the_mpesa_demo_works(up)
    assert_the_hotspot_demo_works(up)
    accepted = assert_radius_answers(command, "Access-Accept", up)
    assert "5M/10M" in accepted, accepted

    children = up.api_and_worker()
    assert len(children) >= 3  # the API, the worker, RADIUS
    postgres = EmbeddedPostgres(data_dir / "postgres")
    postmaster = psutil.Process(postgres.postmaster_pid())
    valkey = psutil.Process(EmbeddedValkey(data_dir / "valkey").running_server()[0])
    assert up.stop() == 0, up.output
    assert all_gone([*children, postmaster, valkey]), up.output

    # Started again, the demo is already there, and paid for: the banner says so.
    second = start_up()
    second.wait_for("Kiunga is up")
    assert "(already there)" in second.output
    assert "owner@demo.example / demo-owner-pass" in second.output
    assert "is lapsed" not in second.output and "refused until the payment" not in second.output
    assert "Subscriber DEMO1 is paid up (active until" in second.output, second.output
    again = channels_of(second.output)  # on a port of its own: the same code and path
    assert again["code"] == channels["code"]
    assert urlsplit(again["callback"]).path == urlsplit(channels["callback"]).path
    command, _ = network_demo(second)
    assert "5M/10M" in assert_radius_answers(command, "Access-Accept", second)
    children = second.api_and_worker()
    assert len(children) >= 3
    second.kill()  # SIGKILL: no cleanup of its own
    assert all_gone(children), "the API, the worker or RADIUS outlived a SIGKILLed kiunga up"

    # The servers outlived it; attaching again finds them, and the demo exactly once.
    url = libpq_url(postgres.acquire())
    try:
        with psycopg.connect(url) as conn:
            tenants = conn.execute("SELECT slug FROM platform.tenants").fetchall()
            owners = conn.execute(
                "SELECT count(*) FROM platform.staff_accounts WHERE email = 'owner@demo.example'"
            ).fetchone()
            channel_rows = conn.execute(
                "SELECT (SELECT count(*) FROM platform.ussd_codes),"
                " (SELECT count(*) FROM platform.webhook_routes WHERE provider = 'channels'),"
                " (SELECT count(*) FROM t_demo.channel_settings)"
            ).fetchone()
    finally:
        postgres.release()
    assert tenants == [("demo",)]
    assert owners == (1,)
    assert channel_rows == (1, 1, 1)
