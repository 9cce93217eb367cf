"""A flood of sign-ins against a real `kiunga serve` (which hashes passwords for real):
the rest of the app keeps answering, and no sign-in is answered with a server error."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

SIGN_INS = 200
SOURCES = 10  # 127.0.0.0/8 is all this machine: each client its own source address


def _client(port: int, host: str, source: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"host": host},
        transport=httpx.AsyncHTTPTransport(local_address=source),
        limits=httpx.Limits(max_connections=SIGN_INS),
        # What is checked is that every request is answered, and how: not how fast (on a
        # machine busy with other test runs, 200 argon2 checks take minutes).
        timeout=600,
    )


async def _token(client: httpx.AsyncClient) -> str:
    from fixtures.web import csrf_token_of

    page = await client.get("/login")
    assert page.status_code == 200, page.text
    return csrf_token_of(page.text)


async def test_a_sign_in_flood_leaves_the_app_answering(server, make_tenant, make_key):
    tenant = make_tenant()
    key = make_key(tenant.id, scopes=("sites:read",))
    clients = [_client(server, tenant.host, f"127.0.1.{n + 1}") for n in range(SOURCES)]
    probe = _client(server, tenant.host, "127.0.2.1")
    try:
        tokens = [await _token(client) for client in clients]
        flooding = asyncio.Event()

        async def sign_in(n: int) -> int:
            client = clients[n % SOURCES]
            answer = await client.post(
                "/login",
                data={
                    "email": f"nobody{n}@{tenant.host}",
                    "password": f"guess {n}",
                    "_csrf_token": tokens[n % SOURCES],
                },
            )
            return answer.status_code

        async def probes() -> list[tuple[str, int, str]]:
            await flooding.wait()
            seen = []
            for _ in range(5):
                ready = await probe.get("/readyz")
                api = await probe.get("/api/v1/sites", headers={"authorization": f"Bearer {key}"})
                seen += [("readyz", ready.status_code, ready.text), ("api", api.status_code, "")]
            return seen

        async def flood() -> list[int]:
            started = [asyncio.ensure_future(sign_in(n)) for n in range(SIGN_INS)]
            flooding.set()
            return await asyncio.gather(*started)

        statuses, seen = await asyncio.gather(flood(), probes())
    finally:
        for client in (*clients, probe):
            await client.aclose()
    for what, status, text in seen:
        assert status == 200, (what, text)
    counted = Counter(statuses)
    assert set(counted) <= {401, 429, 503}, counted
    assert counted[401] > 0, counted
