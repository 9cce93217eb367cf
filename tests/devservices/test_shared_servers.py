"""Embedded PostgreSQL and Valkey are shared by the processes of one data directory,
survive a SIGKILLed process, and stop when the last live process leaves."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import psutil
import psycopg
import pytest
import redis
from kiunga.platform.db.engine import libpq_url
from kiunga.platform.devservices import EmbeddedValkey


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def handle_pids(data_dir: Path) -> dict[str, list[int]]:
    files = {
        "postgres": data_dir / "postgres" / ".handle_pids.json",
        "valkey": data_dir / "valkey" / "handle_pids.json",
    }
    return {name: json.loads(path.read_text()) for name, path in files.items()}


def valkey_servers_in(directory: Path) -> list[int]:
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if process.info["name"] == "valkey-server" and Path(process.cwd()) == directory:
                if process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process.pid)
        except psutil.Error:
            continue
    return found


def assert_usable(info: dict) -> None:
    with psycopg.connect(libpq_url(info["database_url"])) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("kiunga",)
    client = redis.Redis.from_url(info["redis_url"])
    try:
        assert client.ping()
    finally:
        client.close()


def test_a_process_started_after_a_sigkill_attaches_to_the_same_servers(attach, data_dir):
    first = attach()
    before = first.wait_attached()
    first.kill()  # SIGKILL: no atexit, no release

    assert alive(before["postmaster_pid"]) and alive(before["valkey"][0])
    second = attach()
    after = second.wait_attached()

    assert after["postmaster_pid"] == before["postmaster_pid"]
    assert after["valkey"] == before["valkey"]
    assert handle_pids(data_dir) == {"postgres": [after["pid"]], "valkey": [after["pid"]]}
    assert valkey_servers_in(data_dir / "valkey") == [after["valkey"][0]]
    assert_usable(after)

    assert second.leave() == 0
    assert gone(after["postmaster_pid"]) and gone(after["valkey"][0])


def test_processes_attaching_together_share_one_of_each_and_the_last_one_stops_them(
    attach, data_dir
):
    one, two = attach(), attach()
    first, second = one.wait_attached(), two.wait_attached()

    assert first["postmaster_pid"] == second["postmaster_pid"]
    assert first["valkey"] == second["valkey"]
    assert valkey_servers_in(data_dir / "valkey") == [first["valkey"][0]]
    assert sorted(handle_pids(data_dir)["valkey"]) == sorted([first["pid"], second["pid"]])

    assert one.leave() == 0
    assert alive(first["postmaster_pid"]) and alive(first["valkey"][0])
    assert handle_pids(data_dir) == {"postgres": [second["pid"]], "valkey": [second["pid"]]}
    assert_usable(second)

    assert two.leave() == 0
    assert gone(first["postmaster_pid"]) and gone(first["valkey"][0])
    assert handle_pids(data_dir) == {"postgres": [], "valkey": []}
    assert not (data_dir / "valkey" / "server.json").exists()


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("recorded_pid", ["dead", "foreign"])
def test_a_stale_valkey_state_file_starts_a_fresh_server_and_kills_nothing(data_dir, recorded_pid):
    # "foreign": the recorded pid was reused by a live process that is not our server (this
    # test's own process): it must be left alone.
    pid = _dead_pid() if recorded_pid == "dead" else psutil.Process().pid
    directory = data_dir / "valkey"
    directory.mkdir()
    (directory / "server.json").write_text(json.dumps({"pid": pid, "port": 1}))

    valkey = EmbeddedValkey(directory)
    valkey.acquire()
    try:
        server_pid, port = valkey.running_server()
        assert server_pid != pid and port != 1
        assert valkey_servers_in(directory) == [server_pid]
    finally:
        valkey.release()
    assert gone(server_pid)
