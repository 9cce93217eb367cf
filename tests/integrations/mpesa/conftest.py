"""A small real HTTP server standing in for the ISP's callback endpoints, and apps of their
own at the run's Daraja emulator (`daraja`, shared from tests/fixtures/mpesa.py): every
exchange in these tests crosses a real socket."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from kiunga.integrations.mpesa.client import DarajaClient, DarajaConfig
from kiunga.integrations.mpesa.emulator import EmulatorServer


@dataclass
class Received:
    path: str
    body: Any
    at: float = field(default_factory=time.monotonic)


class Receiver:
    """Records every POST; answers `c2b_accept`-like JSON unless told otherwise per path."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._answers: dict[str, tuple[int, Any]] = {}
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                status, answer = receiver._answers.get(
                    self.path, (200, {"ResultCode": "0", "ResultDesc": "Accepted"})
                )
                # Recorded before answering: once the sender has its answer, it is here.
                with receiver._changed:
                    receiver.received.append(Received(self.path, body))
                    receiver._changed.notify_all()
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def new_path(self, name: str) -> str:
        return f"/{name}/{uuid.uuid4().hex[:10]}"

    def answer(self, path: str, body: Any, status: int = 200) -> None:
        self._answers[path] = (status, body)

    def at(self, path: str) -> list[Received]:
        with self._changed:
            return [item for item in self.received if item.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [item for item in self.received if item.path == path]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(found)} of {count} POSTs reached {path}")
                self._changed.wait(remaining)


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


class Control(httpx.Client):
    """An HTTP client for the emulator's control endpoints, with readers of its log."""

    def log(self, **filters: Any) -> list[dict[str, Any]]:
        return self.get("/emulator/log", params=filters).json()

    def oauth_count(self, consumer_key: str) -> int:
        return sum(
            1
            for entry in self.log(kind="oauth")
            if entry["status"] == 200 and entry["body"]["consumer_key"] == consumer_key
        )

    def requests_for(self, kind: str, shortcode: str) -> list[dict[str, Any]]:
        """API requests of one kind that named this shortcode."""
        return [
            entry
            for entry in self.log(kind=kind, direction="in")
            if isinstance(entry["body"], dict)
            and shortcode
            in (entry["body"].get("BusinessShortCode"), entry["body"].get("ShortCode"))
        ]


@pytest.fixture
def control(daraja: EmulatorServer) -> Iterator[Control]:
    """The emulator's control endpoints; faults are cleared after each test."""
    with Control(base_url=daraja.url, timeout=10.0) as http:
        yield http
        http.delete("/emulator/faults")


_shortcodes = itertools.count(600100)


@pytest.fixture
def new_app(daraja: EmulatorServer, control: Control) -> Callable[..., DarajaConfig]:
    """Registers a Daraja app of its own with the emulator (own token, own shortcode)."""

    def make(**overrides: Any) -> DarajaConfig:
        shortcode = str(next(_shortcodes))
        app = {
            "consumer_key": f"key-{uuid.uuid4().hex[:12]}",
            "consumer_secret": f"secret-{uuid.uuid4().hex}",
            "shortcode": shortcode,
            "passkey": uuid.uuid4().hex * 2,
            "shortcode_type": "paybill",
            "initiator_name": "apiop",
            "security_credential": f"cred-{uuid.uuid4().hex}",
            "organisation_name": "Test ISP",
        }
        app.update({k: v for k, v in overrides.items() if k in app or k == "till_number"})
        response = control.post("/emulator/apps", json=app)
        assert response.status_code == 201, response.text
        del app["organisation_name"]
        return DarajaConfig(base_url=daraja.url, **app)

    return make


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., DarajaClient]]:
    clients: list[DarajaClient] = []

    def make(config: DarajaConfig, **options: Any) -> DarajaClient:
        options.setdefault("backoff_seconds", 0.05)
        client = DarajaClient(config, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
