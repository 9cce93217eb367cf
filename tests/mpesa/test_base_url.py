"""Where the ISP's consumer key and secret may be sent: in production only to Safaricom's
Daraja (a base URL elsewhere is refused when saved, and one saved before is never used);
and "test connection" never echoes what some other server answered."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kiunga.platform.settings import get_settings
from kiunga.tenants.mpesa.config import SettingsChange, update_settings

MARKER = "internal-banner-7f3a"
SETTINGS = ("mpesa:settings",)
NOT_CONNECTED = "Daraja did not accept the consumer key and secret, or could not be reached"


class Listener:
    """An HTTP server on loopback standing for whatever an admin could point M-Pesa at:
    it keeps every request it gets and answers as told."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        self.status = 400
        self.body = {"errorCode": "400", "errorMessage": f"{MARKER}: nginx on 10.0.0.5"}
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                listener.requests.append((self.path, self.headers.get("Authorization")))
                payload = json.dumps(listener.body).encode()
                self.send_response(listener.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()


@contextmanager
def production() -> Iterator[None]:
    """KIUNGA_ENV=production for a moment (the rest of the run stays in test mode)."""
    saved = os.environ["KIUNGA_ENV"]
    os.environ["KIUNGA_ENV"] = "production"
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ["KIUNGA_ENV"] = saved
        get_settings.cache_clear()


@pytest.fixture
def real_daraja_client(app):
    """The app's own Daraja client, not a stand-in: requests really leave the process."""
    from kiunga.tenants.mpesa.api import GATEWAY_FACTORY_KEY

    app.state[GATEWAY_FACTORY_KEY] = None
    return app


async def test_in_production_only_darajas_hosts_may_be_the_base_url(
    make_isp, make_key, client_for, listener, real_daraja_client, settings_env
):
    isp = await make_isp()
    client = client_for(isp.host)
    headers = {"Authorization": f"Bearer {make_key(isp.id, scopes=SETTINGS)}"}
    with production():
        await _only_daraja(client, headers, listener)
    assert listener.requests == []
    # Outside production the emulator's address is allowed.
    allowed = await client.put(
        "/api/v1/mpesa/settings", json={"base_url": listener.url}, headers=headers
    )
    assert allowed.status_code == 200, allowed.text


async def _only_daraja(client, headers, listener) -> None:
    for url in (
        listener.url,
        "http://169.254.169.254/latest/meta-data",
        "http://api.safaricom.co.ke",
        "https://api.safaricom.co.ke.attacker.example",
        "https://api.safaricom.co.ke@127.0.0.1",
        "https://api.safaricom.co.ke:8443",
        "https://[::1]",
        "https://api.safaricom.co.ke:99999",
        "https://[::1",
    ):
        refused = await client.put(
            "/api/v1/mpesa/settings", json={"base_url": url}, headers=headers
        )
        assert refused.status_code == 400, (url, refused.text)
        assert refused.json()["errors"][0]["field"] == "base_url"
    for url in ("https://api.safaricom.co.ke", "https://sandbox.safaricom.co.ke/"):
        saved = await client.put("/api/v1/mpesa/settings", json={"base_url": url}, headers=headers)
        assert saved.status_code == 200, saved.text
        assert saved.json()["base_url"] == url.rstrip("/")


async def test_in_production_a_base_url_saved_before_is_never_sent_the_secrets(
    make_isp, make_key, client_for, session_for, listener, real_daraja_client
):
    isp = await make_isp()
    async with session_for(isp) as session:  # saved in development, or before the rule
        await update_settings(session, SettingsChange(base_url=listener.url))
    client = client_for(isp.host)
    headers = {"Authorization": f"Bearer {make_key(isp.id, scopes=SETTINGS)}"}
    with production():
        tested = await client.post("/api/v1/mpesa/settings/test-connection", headers=headers)
    assert tested.status_code == 400, tested.text
    assert tested.json()["errors"][0]["field"] == "base_url"
    assert listener.requests == []


async def test_test_connection_does_not_echo_what_another_server_said(
    make_isp, make_key, client_for, session_for, listener, real_daraja_client
):
    isp = await make_isp(base_url=listener.url)  # the emulator's place outside production
    client = client_for(isp.host)
    headers = {"Authorization": f"Bearer {make_key(isp.id, scopes=SETTINGS)}"}
    for status in (400, 401, 500, 200):
        listener.status = status
        tested = await client.post("/api/v1/mpesa/settings/test-connection", headers=headers)
        assert tested.status_code == 200, tested.text
        assert tested.json()["ok"] is False
        assert MARKER not in tested.text and "10.0.0.5" not in tested.text
        assert tested.json()["message"] == NOT_CONNECTED
    assert len(listener.requests) == 4 and all(
        path.startswith("/oauth/") for path, _ in listener.requests
    )
