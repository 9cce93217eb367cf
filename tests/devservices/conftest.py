"""Fixtures for the embedded-services tests: a short private data directory per test, and
child processes that attach to its servers the way Kiunga's processes do."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from kiunga.platform.devservices import EmbeddedPostgres, EmbeddedValkey

# Attaches to both servers, prints what it attached to as one JSON line, then holds on until
# its stdin closes (a normal exit, which releases) or it is killed.
ATTACH_SCRIPT = """
import json, os, sys
from pathlib import Path
from kiunga.platform.devservices import EmbeddedPostgres, EmbeddedValkey
root = Path(sys.argv[1])
postgres, valkey = EmbeddedPostgres(root / "postgres"), EmbeddedValkey(root / "valkey")
database_url, redis_url = postgres.acquire(), valkey.acquire()
print(json.dumps({
    "pid": os.getpid(),
    "postmaster_pid": postgres.postmaster_pid(),
    "valkey": valkey.running_server(),
    "database_url": database_url,
    "redis_url": redis_url,
}), flush=True)
sys.stdin.read()
"""

ATTACH_TIMEOUT_SECONDS = 60


class Attached:
    """A child process attached to the embedded servers of one data directory."""

    def __init__(self, data_dir: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", ATTACH_SCRIPT, str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.info: dict | None = None

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put("")

    def wait_attached(self) -> dict:
        try:
            line = self._lines.get(timeout=ATTACH_TIMEOUT_SECONDS)
        except queue.Empty:
            self.process.kill()
            raise AssertionError("the child did not attach in time") from None
        assert line, f"the child exited with {self.process.wait()} before attaching"
        self.info = json.loads(line)
        return self.info

    def leave(self) -> int:
        """Close stdin: the child exits normally, releasing what it attached."""
        self.process.stdin.close()
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def data_dir():
    """A short data directory (unix socket paths are limited to about 100 bytes); every
    server started in it is stopped at the end, whatever the test left behind."""
    path = Path(tempfile.mkdtemp(prefix="kd", dir="/tmp"))
    yield path
    EmbeddedValkey(path / "valkey").stop()
    EmbeddedPostgres(path / "postgres").stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def attach(data_dir):
    started: list[Attached] = []

    def start() -> Attached:
        child = Attached(data_dir)
        started.append(child)
        return child

    yield start
    for child in started:
        if child.process.poll() is None:
            child.kill()
