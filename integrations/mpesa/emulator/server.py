"""The emulator as an ASGI app, served by uvicorn: blocking for the CLI, or in a thread on a
free port for tests (the scaffolding is integrations.emulation.server)."""

from __future__ import annotations

import os

import httpx
import uvicorn
from kiunga.integrations.emulation.server import ThreadedEmulator, emulator_app
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
    return emulator_app(
        state,
        [*build_daraja_routes(state), *build_control_routes(state)],
        lambda: httpx.AsyncClient(timeout=10.0),
    )


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


class EmulatorServer(ThreadedEmulator):
    """The emulator in a background thread, on a free port unless one is given.

    with EmulatorServer(callback_delay=0.2) as daraja:
        DarajaConfig(base_url=daraja.url, ...)
    """

    provider = "Daraja"
    thread_name = "daraja-emulator"

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
        super().__init__(host, port)
        self.state = build_state(
            apps=apps,
            apps_source=apps_source,
            callback_delay=callback_delay,
            with_demo_app=with_demo_app,
        )

    def create_app(self) -> Litestar:
        return create_emulator_app(self.state)
