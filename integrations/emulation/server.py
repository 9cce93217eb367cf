"""An emulator as an ASGI app, and that app served by uvicorn in a background thread on a
free port (for tests and `kiunga up`); each emulator's server module builds on these."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol, Self

import httpx
import uvicorn
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler


class HoldsHttpClient(Protocol):
    """An emulator's state: `http` is the client its callbacks go out with, while it runs."""

    http: httpx.AsyncClient | None


def emulator_app(
    state: HoldsHttpClient,
    route_handlers: Sequence[HTTPRouteHandler],
    new_client: Callable[[], httpx.AsyncClient],
) -> Litestar:
    """The Litestar app serving `route_handlers`, with `state` on `app.state.emulator` and an
    HTTP client (from `new_client`) in `state.http` from startup to shutdown."""

    async def start_http_client() -> None:
        state.http = new_client()

    async def stop_http_client() -> None:
        if state.http is not None:
            await state.http.aclose()
            state.http = None

    app = Litestar(
        route_handlers=list(route_handlers),
        on_startup=[start_http_client],
        on_shutdown=[stop_http_client],
        openapi_config=None,
        logging_config=None,
    )
    app.state.emulator = state
    return app


class ThreadedEmulator:
    """An emulator in a background thread, on a free port unless one is given; a context
    manager. A subclass names its provider, builds its state in __init__ and its app in
    `create_app`."""

    provider: ClassVar[str] = ""  # as in "the Twilio emulator did not start"
    thread_name: ClassVar[str] = "emulator"
    # More uvicorn.Config settings (a deeper backlog for the load the messaging ones take).
    uvicorn_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def create_app(self) -> Litestar:
        raise NotImplementedError

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Self:
        if self._server is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.create_app(), log_level="warning", lifespan="on", **self.uvicorn_options
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self.thread_name, daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError(f"the {self.provider} emulator did not start")
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
