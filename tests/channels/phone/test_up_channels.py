"""`kiunga up` itself, in a private data directory: its banner gives the demo ISP's USSD
code, the callback address, a curl that (run as printed) answers the first CON screen, and
the Phone page, which answers; a second `up` on the same directory seeds nothing again
(the same code and callback token, one channel settings row)."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from kiunga.platform.db.engine import libpq_url
from kiunga.platform.devservices import EmbeddedPostgres, EmbeddedValkey

from fixtures.served import free_port

pytestmark = pytest.mark.slow

BANNER_END = "embedded services."
BANNER_TIMEOUT_SECONDS = 180
STOP_TIMEOUT_SECONDS = 150


@pytest.fixture
def data_dir():
    """A short data directory (unix socket paths are limited); its servers stopped after."""
    path = Path(tempfile.mkdtemp(prefix="kp", dir="/tmp"))
    yield path
    EmbeddedValkey(path / "valkey").stop()
    EmbeddedPostgres(path / "postgres").stop()
    shutil.rmtree(path, ignore_errors=True)


class Up:
    """A running `kiunga up`, its output read line by line until the banner has ended."""

    def __init__(self, data_dir: Path, port: int):
        env = {key: value for key, value in os.environ.items() if not key.startswith("KIUNGA_")}
        env.update(
            KIUNGA_DATA_DIR=str(data_dir),
            KIUNGA_PORT=str(port),
            KIUNGA_ENV="development",
            KIUNGA_MIGRATE_CONCURRENCY="1",
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

    def banner(self) -> str:
        deadline = time.monotonic() + BANNER_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if line.rstrip().endswith(BANNER_END):
                output = "".join(self.lines)
                return output[output.index("Kiunga is up") :]
            if line == "":
                break
        raise AssertionError(f"no banner from kiunga up:\n{''.join(self.lines)}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


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


def test_ups_banner_opens_a_ussd_session_and_a_second_up_seeds_nothing(data_dir):
    port = free_port()
    up = Up(data_dir, port)
    try:
        first = channels_of(up.banner())
        assert first["code"] == "*483*57#"
        assert first["callback"].startswith(f"http://127.0.0.1:{port}/hooks/channels/")
        assert first["curl"].startswith(f"curl -X POST {first['callback']} ")
        run = subprocess.run(
            ["sh", "-c", first["curl"] + " -s"], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("CON ") and "2. Pay" in run.stdout, run.stdout
        assert len(run.stdout) <= 182
        # The Phone page is there (a sign-in first).
        page = httpx.get(first["phone_page"].replace("demo.localhost", "127.0.0.1"),
                         headers={"Host": f"demo.localhost:{port}"}, timeout=30)  # fmt: skip
        assert page.status_code in (302, 303) and "/login" in page.headers["location"]
    finally:
        up.stop()

    again = Up(data_dir, port)
    try:
        banner = again.banner()
        assert "(already there)" in banner
        assert channels_of(banner) == first
        url = libpq_url(EmbeddedPostgres(data_dir / "postgres").acquire())
        try:
            with psycopg.connect(url) as conn:
                counts = conn.execute(
                    "SELECT (SELECT count(*) FROM platform.ussd_codes),"
                    " (SELECT count(*) FROM platform.webhook_routes WHERE provider = 'channels'),"
                    " (SELECT count(*) FROM t_demo.channel_settings),"
                    " (SELECT count(*) FROM t_demo.subscribers)"
                ).fetchone()
        finally:
            EmbeddedPostgres(data_dir / "postgres").release()
        assert counts == (1, 1, 1, 1)
    finally:
        again.stop()
