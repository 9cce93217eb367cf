"""The emulator as an ASGI app, served by uvicorn: blocking for the CLI, or in a thread on a
free port for tests and `kiunga up` (the scaffolding is integrations.emulation.server)."""

from __future__ import annotations

import httpx
import uvicorn
from kiunga.integrations.africastalking.emulator.control import build_control_routes
from kiunga.integrations.africastalking.emulator.sms_api import build_sms_routes
from kiunga.integrations.africastalking.emulator.state import Account, EmulatorState
from kiunga.integrations.emulation.server import ThreadedEmulator, emulator_app
from litestar import Litestar

DEFAULT_PORT = 8091

# AT gives up on an application that has not answered a USSD hop in about 15 seconds.
CALLBACK_TIMEOUT = 15.0


def create_emulator_app(state: EmulatorState | None = None) -> Litestar:
    state = state or EmulatorState()

    def new_client() -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        return httpx.AsyncClient(timeout=CALLBACK_TIMEOUT, limits=limits)

    return emulator_app(state, [*build_sms_routes(state), *build_control_routes(state)], new_client)


def run_emulator(
    host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, delivery_delay: float = 0.5
) -> None:
    """Serve the emulator until interrupted."""
    state = EmulatorState(delivery_delay=delivery_delay)
    uvicorn.run(create_emulator_app(state), host=host, port=port, log_level="warning")


class AfricasTalkingEmulator(ThreadedEmulator):
    """The emulator in a background thread, on a free port unless one is given.

    with AfricasTalkingEmulator() as at:
        AtCredentials(DEMO_USERNAME, DEMO_API_KEY, base_url=at.url)
    """

    provider = "Africa's Talking"
    thread_name = "at-emulator"
    uvicorn_options = {"backlog": 1024, "timeout_keep_alive": 30}

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        accounts: list[Account] | None = None,
        delivery_delay: float = 0.2,
        with_demo_account: bool = True,
    ) -> None:
        super().__init__(host, port)
        self.state = EmulatorState(
            delivery_delay=delivery_delay, with_demo_account=with_demo_account
        )
        for account in accounts or []:
            self.state.add_account(account)

    def create_app(self) -> Litestar:
        return create_emulator_app(self.state)
