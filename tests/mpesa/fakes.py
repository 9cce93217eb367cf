"""A stand-in for Daraja behind the MpesaGateway interface, for tests that are about our
side of the conversation (the emulator tests talk to a real HTTP Daraja)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from kiunga.integrations.mpesa.client import (
    C2BUrlsRegistered,
    DarajaAuthError,
    StkPushAccepted,
    StkQueryResult,
)

_ids = itertools.count(1)


@dataclass
class FakeDaraja:
    pushes: list[dict] = field(default_factory=list)
    registrations: list[dict] = field(default_factory=list)
    queries: dict[str, StkQueryResult] = field(default_factory=dict)
    credentials_ok: bool = True

    def __call__(self, credentials):
        self.credentials = credentials
        return self

    async def stk_push(self, **kwargs) -> StkPushAccepted:
        self.pushes.append(kwargs)
        n = next(_ids)
        return StkPushAccepted(f"m-{n}", f"ws_CO_FAKE_{n}", "Success. Request accepted")

    async def stk_query(self, checkout_request_id: str) -> StkQueryResult:
        return self.queries.get(checkout_request_id, StkQueryResult(None, "pending", True))

    async def register_c2b_urls(self, **kwargs) -> C2BUrlsRegistered:
        self.registrations.append(kwargs)
        return C2BUrlsRegistered("oc-1", "Success")

    async def transaction_status(self, **kwargs):
        raise NotImplementedError

    async def check_credentials(self) -> None:
        if not self.credentials_ok:
            raise DarajaAuthError("400.008.01", "Invalid Authentication passed")
