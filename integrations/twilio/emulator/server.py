"""The emulator as an ASGI app, served by uvicorn: blocking for the CLI, or in a thread on a
free port for tests and `kiunga up` (the scaffolding is integrations.emulation.server)."""

from __future__ import annotations

import httpx
import uvicorn
from kiunga.integrations.emulation.server import ThreadedEmulator, emulator_app
from kiunga.integrations.twilio.emulator.control import build_control_routes
from kiunga.integrations.twilio.emulator.messages_api import build_messages_routes
from kiunga.integrations.twilio.emulator.state import EmulatorState, Template, TwilioAccount
from litestar import Litestar

DEFAULT_PORT = 8092

# Twilio gives up on a webhook that has not answered in 15 seconds.
CALLBACK_TIMEOUT = 15.0


def create_emulator_app(state: EmulatorState | None = None) -> Litestar:
    state = state or EmulatorState()

    def new_client() -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        return httpx.AsyncClient(timeout=CALLBACK_TIMEOUT, limits=limits)

    return emulator_app(
        state, [*build_messages_routes(state), *build_control_routes(state)], new_client
    )


def run_emulator(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    status_delay: float = 0.5,
) -> None:
    """Serve the emulator until interrupted."""
    state = EmulatorState(status_delay=status_delay)
    uvicorn.run(create_emulator_app(state), host=host, port=port, log_level="warning")


class TwilioEmulator(ThreadedEmulator):
    """The emulator in a background thread, on a free port unless one is given.

    with TwilioEmulator() as twilio:
        TwilioCredentials(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, base_url=twilio.url)
    """

    provider = "Twilio"
    thread_name = "twilio-emulator"
    uvicorn_options = {"backlog": 1024, "timeout_keep_alive": 30}

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        accounts: list[TwilioAccount] | None = None,
        templates: list[Template] | None = None,
        status_delay: float = 0.1,
        with_demo_account: bool = True,
    ) -> None:
        super().__init__(host, port)
        self.state = EmulatorState(status_delay=status_delay, with_demo_account=with_demo_account)
        for account in accounts or []:
            self.state.add_account(account)
        for template in templates or []:
            self.state.add_template(template)

    def create_app(self) -> Litestar:
        return create_emulator_app(self.state)
