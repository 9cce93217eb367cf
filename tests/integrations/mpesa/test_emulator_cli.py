"""`kiunga emulator daraja` serves the emulator as its own process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from kiunga.integrations.mpesa.emulator import DEMO_CONSUMER_KEY, DEMO_CONSUMER_SECRET

KIUNGA = Path(sys.executable).with_name("kiunga")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_cli_serves_the_demo_app_and_apps_from_a_file(tmp_path):
    apps = tmp_path / "apps.json"
    apps.write_text(
        json.dumps(
            [
                {
                    "consumer_key": "file-key",
                    "consumer_secret": "file-secret",
                    "shortcode": "600999",
                    "passkey": "file-passkey",
                }
            ]
        )
    )
    port = free_port()
    process = subprocess.Popen(
        [str(KIUNGA), "emulator", "daraja", "--port", str(port), "--apps", str(apps)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/emulator/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "the emulator did not come up"
            time.sleep(0.1)
        for key, secret in ((DEMO_CONSUMER_KEY, DEMO_CONSUMER_SECRET), ("file-key", "file-secret")):
            token = httpx.get(
                f"{url}/oauth/v1/generate",
                params={"grant_type": "client_credentials"},
                auth=(key, secret),
            )
            assert token.status_code == 200 and token.json()["expires_in"] == "3599"
        apps_known = {app["shortcode"] for app in httpx.get(f"{url}/emulator/apps").json()}
        assert apps_known == {"174379", "600999"}
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
