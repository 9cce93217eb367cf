"""The emulator as an ASGI app, served by uvicorn: blocking for the CLI, or in a thread on a
free port for tests and `kiunga up`."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn
from kiunga.integrations.africastalking.emulator.control import build_control_routes
from kiunga.integrations.africastalking.emulator.sms_api import build_sms_routes
from kiunga.integrations.africastalking.emulator.state import Account, EmulatorState
from litestar import Litestar

DEFAULT_PORT = 8091

# AT gives up on an application that has not answered a USSD hop in about 15 seconds.
CALLBACK_TIMEOUT = 15.0


def create_emulator_app(state: EmulatorState | None = None) -> Litestar:
    state = state or EmulatorState()

    async def start_http_client() -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        state.http = httpx.AsyncClient(timeout=CALLBACK_TIMEOUT, limits=limits)

    async def stop_http_client() -> None:
        if state.http is not None:
            await state.http.aclose()
            state.http = None

    app = Litestar(
        route_handlers=[*build_sms_routes(state), *build_control_routes(state)],
        on_startup=[start_http_client],
        on_shutdown=[stop_http_client],
        openapi_config=None,
        logging_config=None,
    )
    app.state.emulator = state
    return app


def run_emulator(
    host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, delivery_delay: float = 0.5
) -> None:
    """Serve the emulator until interrupted."""
    state = EmulatorState(delivery_delay=delivery_delay)
    uvicorn.run(create_emulator_app(state), host=host, port=port, log_level="warning")


class AfricasTalkingEmulator:
    """The emulator in a background thread, on a free port unless one is given.

    with AfricasTalkingEmulator() as at:
        AtCredentials(DEMO_USERNAME, DEMO_API_KEY, base_url=at.url)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        accounts: list[Account] | None = None,
        delivery_delay: float = 0.2,
        with_demo_account: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.state = EmulatorState(
            delivery_delay=delivery_delay, with_demo_account=with_demo_account
        )
        for account in accounts or []:
            self.state.add_account(account)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> AfricasTalkingEmulator:
        if self._server is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_emulator_app(self.state),
            log_level="warning",
            lifespan="on",
            backlog=1024,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="at-emulator", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError("the Africa's Talking emulator did not start")
            time.sleep(0.01)
        self._server, self._thread, self._socket = server, thread, sock
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._socket.close()
        self._server = self._thread = None

    def __enter__(self) -> AfricasTalkingEmulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
