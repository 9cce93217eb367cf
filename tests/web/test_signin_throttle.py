"""Sign-in guessing under attack: concurrent guesses, several web processes, IPv6
addresses and strangers failing on purpose against someone's email."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from kiunga.platform.web.app import create_app

from fixtures.web import csrf_token_of

OWNER_PASSWORD = "correct horse battery"  # what make_tenant gives every owner
PAIR_LIMIT = 10


async def _form(client: httpx.AsyncClient) -> str:
    page = await client.get("/login")
    assert page.status_code == 200, page.text
    return csrf_token_of(page.text)


async def _sign_in(client: httpx.AsyncClient, email: str, password: str, token: str):
    return await client.post(
        "/login", data={"email": email, "password": password, "_csrf_token": token}
    )


async def test_concurrent_guesses_are_checked_at_most_to_the_limit(client_for, make_tenant):
    tenant = make_tenant()
    client = client_for(tenant.host, client_ip="198.51.100.31")
    token = await _form(client)
    answers = await asyncio.gather(
        *(_sign_in(client, tenant.owner_email, f"guess {n}", token) for n in range(60))
    )
    statuses = Counter(answer.status_code for answer in answers)
    # 503: the password could not be checked in time (a busy machine) and was not counted.
    assert set(statuses) <= {401, 429, 503}, statuses
    assert statuses[401] <= PAIR_LIMIT, statuses
    assert statuses[429] >= 60 - PAIR_LIMIT - statuses[503]
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 900


async def test_the_count_is_shared_by_every_web_process(
    client_for, make_tenant, settings, database_url, redis_url
):
    tenant = make_tenant()
    other_process = create_app(settings, database_url, redis_url)
    try:
        transport = httpx.ASGITransport(app=other_process, client=("198.51.100.32", 50000))
        async with httpx.AsyncClient(
            transport=transport, base_url=f"http://{tenant.host}"
        ) as there:
            here = client_for(tenant.host, client_ip="198.51.100.32")
            here_token, there_token = await _form(here), await _form(there)
            for n in range(PAIR_LIMIT // 2):
                assert (
                    await _sign_in(here, tenant.owner_email, f"a{n}", here_token)
                ).status_code == 401
                assert (
                    await _sign_in(there, tenant.owner_email, f"b{n}", there_token)
                ).status_code == 401
            # Ten failures between the two processes: the right password waits too.
            assert (
                await _sign_in(here, tenant.owner_email, OWNER_PASSWORD, here_token)
            ).status_code == 429
    finally:
        await other_process.services.close()


async def test_ipv6_addresses_of_one_64_count_as_one_source(client_for, make_tenant):
    tenant = make_tenant()
    for n in range(PAIR_LIMIT):
        client = client_for(tenant.host, client_ip=f"2001:db8:7:8::{n + 1:x}")
        answer = await _sign_in(client, tenant.owner_email, "guess", await _form(client))
        assert answer.status_code == 401
    same_line = client_for(tenant.host, client_ip="2001:db8:7:8:ffff:ffff:ffff:fffe")
    assert (
        await _sign_in(same_line, tenant.owner_email, OWNER_PASSWORD, await _form(same_line))
    ).status_code == 429
    another_line = client_for(tenant.host, client_ip="2001:db8:7:9::1")
    assert (
        await _sign_in(another_line, tenant.owner_email, OWNER_PASSWORD, await _form(another_line))
    ).status_code == 303


async def test_strangers_cannot_lock_someone_out_of_their_own_address(client_for, make_tenant):
    tenant = make_tenant()
    # Sixty failures against the owner's email from six other addresses ...
    for stranger in range(6):
        client = client_for(tenant.host, client_ip=f"203.0.113.{40 + stranger}")
        token = await _form(client)
        for n in range(PAIR_LIMIT):
            await _sign_in(client, tenant.owner_email, f"guess {n}", token)
        assert (await _sign_in(client, tenant.owner_email, "more", token)).status_code == 429
    # ... and the owner still signs in from their own.
    owner = client_for(tenant.host, client_ip="198.51.100.33")
    answer = await _sign_in(owner, tenant.owner_email, OWNER_PASSWORD, await _form(owner))
    assert answer.status_code == 303, answer.text


@pytest.mark.parametrize(
    ("address", "source"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_sources_group_ipv6_by_64(address, source):
    from kiunga.platform.auth.attempts import source_of

    assert source_of(address) == source


async def test_without_redis_each_process_still_counts(make_tenant, settings, database_url):
    """An outage neither lets guesses go uncounted nor locks staff out of the console: the
    process counts in its own memory, concurrent guesses included."""
    tenant = make_tenant()
    no_redis = create_app(settings, database_url, "redis://127.0.0.1:1/0")
    try:
        transport = httpx.ASGITransport(app=no_redis, client=("198.51.100.34", 50000))
        async with httpx.AsyncClient(
            transport=transport, base_url=f"http://{tenant.host}"
        ) as client:
            token = await _form(client)
            signed_in = await _sign_in(client, tenant.owner_email, OWNER_PASSWORD, token)
            client.cookies.clear()  # a stranger now, from the same address
            token = await _form(client)
            guesses = await asyncio.gather(
                *(_sign_in(client, tenant.owner_email, f"guess {n}", token) for n in range(30))
            )
            after = await _sign_in(client, tenant.owner_email, OWNER_PASSWORD, token)
    finally:
        await no_redis.services.close()
    assert signed_in.status_code == 303, signed_in.text
    statuses = Counter(answer.status_code for answer in guesses)
    assert statuses[401] == PAIR_LIMIT and statuses[429] == 30 - PAIR_LIMIT, statuses
    assert after.status_code == 429
    assert int(after.headers["retry-after"]) > 0
