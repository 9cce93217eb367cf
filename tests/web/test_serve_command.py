"""`kiunga serve` runs the app under uvicorn, on the run's database and Redis."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_health_and_tenant_hosts(settings_env, make_tenant):
    tenant = make_tenant()
    port = _free_port()
    kiunga = Path(sys.executable).with_name("kiunga")
    env = {**os.environ, **settings_env, "KIUNGA_PORT": str(port), "KIUNGA_LOG_JSON": "true"}
    process = subprocess.Popen(
        [str(kiunga), "serve", "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "kiunga serve did not start"
                time.sleep(0.2)
        assert health.status_code == 200
        login = httpx.get(f"{base}/login", headers={"Host": f"{tenant.host}:{port}"})
        assert login.status_code == 200 and tenant.name in login.text
        unknown = httpx.get(f"{base}/login", headers={"Host": "nobody.example"})
        assert unknown.status_code == 404
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    # JSON log lines with the request id, and no uvicorn access lines without one.
    request_lines = [line for line in output.splitlines() if '"event": "request"' in line]
    assert any('"path": "/login"' in line and '"request_id": ' in line for line in request_lines)
