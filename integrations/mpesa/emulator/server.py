"""The emulator as an ASGI app, served by uvicorn: blocking for the CLI, or in a thread on a
free port for tests."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import httpx
import uvicorn
from kiunga.integrations.mpesa.emulator.control import build_control_routes
from kiunga.integrations.mpesa.emulator.daraja import build_daraja_routes
from kiunga.integrations.mpesa.emulator.state import (
    APPS_ENV,
    EmulatedApp,
    EmulatorState,
    apps_from_source,
)
from litestar import Litestar

DEFAULT_PORT = 8089


def create_emulator_app(state: EmulatorState | None = None) -> Litestar:
    state = state or EmulatorState()

    async def start_http_client() -> None:
        state.http = httpx.AsyncClient(timeout=10.0)

    async def stop_http_client() -> None:
        if state.http is not None:
            await state.http.aclose()
            state.http = None

    app = Litestar(
        route_handlers=[*build_daraja_routes(state), *build_control_routes(state)],
        on_startup=[start_http_client],
        on_shutdown=[stop_http_client],
        openapi_config=None,
        logging_config=None,
    )
    app.state.emulator = state
    return app


def build_state(
    *,
    apps: list[EmulatedApp] | None = None,
    apps_source: str | os.PathLike[str] | None = None,
    callback_delay: float = 1.0,
    with_demo_app: bool = True,
) -> EmulatorState:
    """The demo app, then apps from `apps_source` (file or JSON) or $KIUNGA_DARAJA_EMULATOR_APPS."""
    state = EmulatorState(callback_delay=callback_delay, with_demo_app=with_demo_app)
    source = apps_source if apps_source is not None else os.environ.get(APPS_ENV)
    for app in [*apps_from_source(source), *(apps or [])]:
        state.add_app(app)
    return state


def run_emulator(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    apps_source: str | os.PathLike[str] | None = None,
    callback_delay: float = 1.0,
) -> None:
    """Serve the emulator until interrupted."""
    state = build_state(apps_source=apps_source, callback_delay=callback_delay)
    uvicorn.run(create_emulator_app(state), host=host, port=port, log_level="warning")


class EmulatorServer:
    """The emulator in a background thread, on a free port unless one is given.

    with EmulatorServer(callback_delay=0.2) as daraja:
        DarajaConfig(base_url=daraja.url, ...)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        apps: list[EmulatedApp] | None = None,
        apps_source: str | os.PathLike[str] | None = None,
        callback_delay: float = 1.0,
        with_demo_app: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.state = build_state(
            apps=apps,
            apps_source=apps_source,
            callback_delay=callback_delay,
            with_demo_app=with_demo_app,
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        if self._server is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(create_emulator_app(self.state), log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="daraja-emulator", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError("the Daraja emulator did not start")
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

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
