"""Guessing codes under attack: concurrent guesses against a real `kiunga serve` are
counted before they are evaluated, and IPv6 addresses of one /64 share one budget."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from kiunga.channels.portal.ratelimit import SOURCE_LIMIT

from .conftest import router_fields
from .test_portal_http import arrive, hidden, redeem

GUESSES = 100


async def test_concurrent_guesses_from_one_source_are_evaluated_at_most_to_the_limit(
    server, isp, add_package
):
    await add_package()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server}",
        headers={"host": isp.host},
        limits=httpx.Limits(max_connections=GUESSES),
        timeout=120,
    ) as client:
        # A forged device per guess (anyone can post router parameters): only the source
        # address ties the guesses together.
        forms = []
        for n in range(GUESSES):
            fields = router_fields(mac=f"AA:BB:CC:20:00:{n:02X}", ip=f"10.5.52.{n + 1}")
            answer = await client.post("/portal/login", data=fields)
            assert answer.status_code == 200, answer.text
            form = hidden(answer.text)
            assert form["rs"]
            forms.append({"rs": form["rs"], "lang": form["lang"], "_pt": form["_pt"]})
        answers = await asyncio.gather(
            *(
                client.post("/portal/redeem", data={**form, "code": f"GUESS{n:03d}"})
                for n, form in enumerate(forms)
            )
        )
    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) <= {400, 429}, statuses
    assert statuses[400] <= SOURCE_LIMIT, statuses  # each 400 is a code looked up


async def test_ipv6_addresses_of_one_64_share_the_source_budget(client_for, isp, add_package):
    await add_package()

    async def guess(address: str, n: int) -> int:
        client = client_for(isp.host, client_ip=address)
        _, fields = await arrive(client, mac=f"AA:BB:CC:21:00:{n:02X}", ip=f"10.5.53.{n + 1}")
        return (await redeem(client, fields, f"WRONG{n}")).status_code

    first = await asyncio.gather(
        *(guess(f"2001:db8:30:40::{n + 1:x}", n) for n in range(SOURCE_LIMIT))
    )
    assert set(first) == {400}
    assert await guess("2001:db8:30:40:abcd:1:2:3", 200) == 429
    assert await guess("2001:db8:30:41::1", 201) == 400
