"""A voucher's first login, asked by Debian's radclient of the RADIUS server `kiunga radius`
runs: a login asked for before the subscriber cache heard of the redemption is found in
the database (once; a made-up name is refused from memory after the first lookup, and only
in the ISP the router belongs to), and the voucher's validity starts at its first accepted
login (Access-Accept or Accounting-Start), once."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from kiunga.tenants.network.radius.authorizer import TenantAuthorizer
from kiunga.tenants.network.radius.models import RadiusSession
from kiunga.tenants.services.models import Service
from kiunga.tenants.vouchers import export
from kiunga.tenants.vouchers.models import Voucher, VoucherBatch
from kiunga.tenants.vouchers.redeem import redeem_voucher
from kiunga.tenants.vouchers.schemas import VoucherRead
from kiunga.tenants.vouchers.usage import voucher_usage
from sqlalchemy import select, text

from fixtures.radius import OTHER_SECRET, SECRET, radclient, running_radius
from fixtures.vouchers import PHONE, cached, radius_acct, radius_auth, redeem, voucher_of
from fixtures.waiting import eventually

pytestmark = pytest.mark.usefixtures("needs_radclient")
HOUR = timedelta(hours=1)


@pytest.fixture
def isp(radius_isp):
    """An ISP whose radius-mode router sends from 127.0.0.1."""
    return radius_isp


@pytest.fixture
def other_isp(other_radius_isp):
    """Another ISP, whose router sends from 127.0.0.2."""
    return other_radius_isp


class DeafAuthorizer(TenantAuthorizer):
    """The subscriber cache with its NOTIFYs held back: what a RADIUS worker is in the
    moments before a new service's notification reaches it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.held: list[str] = []

    def notified(self, payload: str) -> None:
        self.held.append(payload)


@pytest.fixture
async def deaf_radius(isp, other_isp, database_url, settings_env):
    """What `kiunga radius` runs, its cache loaded before the test's services exist and
    deaf to their NOTIFYs (both ISPs' routers exist first, so the directory knows them)."""
    async with running_radius(database_url, DeafAuthorizer, wait_listening=False) as running:
        yield running


async def _voucher(unit_of_work, schema: str, code: str) -> Voucher:
    async with unit_of_work(schema) as session:
        return await session.scalar(select(Voucher).where(Voucher.code == code))


async def test_a_login_asked_before_the_cache_heard_of_it_is_accepted(
    deaf_radius, isp, unit_of_work
):
    code = await voucher_of(unit_of_work, isp.schema)
    await redeem(unit_of_work, isp.schema, code, PHONE)
    assert cached(deaf_radius, isp.schema, code) is None  # its NOTIFY is held back

    accepted = await radius_auth(deaf_radius, code, PHONE)

    assert accepted.code == "Access-Accept", accepted.output
    assert accepted["Mikrotik-Rate-Limit"] == "2M/2M"
    assert int(accepted["Session-Timeout"]) == 3600  # all of its hour: it starts now
    assert deaf_radius.authorizer.database_lookups == 1
    # Found once, it is in the cache: the next login is answered from memory.
    assert cached(deaf_radius, isp.schema, code) is not None
    again = await radius_auth(deaf_radius, code.lower(), PHONE, password=code)
    assert again.code == "Access-Accept", again.output
    wrong = await radius_auth(deaf_radius, code, PHONE, password="not-the-code")
    assert wrong["Reply-Message"] == "Wrong password"
    assert deaf_radius.authorizer.database_lookups == 1


async def test_an_unknown_name_costs_one_lookup_then_none_for_a_while(deaf_radius, isp):
    refused = await radius_auth(deaf_radius, "NOSUCHCODE7", PHONE)
    assert refused.code == "Access-Reject", refused.output
    assert refused["Reply-Message"] == "Unknown user"
    assert deaf_radius.authorizer.database_lookups == 1

    again = await radius_auth(deaf_radius, "nosuchcode7", PHONE)  # the same login, any case
    assert again["Reply-Message"] == "Unknown user"
    assert deaf_radius.authorizer.database_lookups == 1  # refused from memory
    # A name no service could have is not looked up at all.
    odd = await radius_auth(deaf_radius, "no such login!", PHONE)
    assert odd["Reply-Message"] == "Unknown user"
    assert deaf_radius.authorizer.database_lookups == 1


async def test_the_lookup_stays_in_the_isp_of_the_router_that_asks(
    deaf_radius, isp, other_isp, unit_of_work
):
    code = await voucher_of(unit_of_work, other_isp.schema)
    await redeem(unit_of_work, other_isp.schema, code, PHONE)

    attributes = {"User-Name": code, "User-Password": code}
    mine = await radclient(deaf_radius.auth_port, "auth", SECRET, attributes)
    theirs = await radclient(
        deaf_radius.auth_port, "auth", OTHER_SECRET, attributes, source="127.0.0.2"
    )

    assert mine.code == "Access-Reject" and mine["Reply-Message"] == "Unknown user"
    assert theirs.code == "Access-Accept", theirs.output


async def test_the_validity_starts_at_the_first_accepted_login(radius, isp, unit_of_work):
    code = await voucher_of(unit_of_work, isp.schema)
    redeemed_at = datetime.now(UTC) - timedelta(minutes=20)
    async with unit_of_work(isp.schema) as session:
        redeemed = await redeem_voucher(session, code, mac=PHONE, ip=None, now=redeemed_at)
    assert redeemed.expires_at == redeemed_at + HOUR  # until a login starts it
    await eventually(lambda: cached(radius, isp.schema, code))

    before = datetime.now(UTC)
    accepted = await radius_auth(radius, code, PHONE)
    after = datetime.now(UTC)

    assert accepted.code == "Access-Accept", accepted.output
    assert int(accepted["Session-Timeout"]) == 3600

    async def started():
        voucher = await _voucher(unit_of_work, isp.schema, code)
        return voucher.first_login_at is not None and voucher

    voucher = await eventually(started)
    assert before - timedelta(seconds=1) <= voucher.first_login_at <= after
    assert voucher.expires_at == voucher.first_login_at + HOUR
    async with unit_of_work(isp.schema) as session:
        service = await session.get(Service, redeemed.service_id)
        assert (service.period_start, service.expires_at) == (
            voucher.first_login_at,
            voucher.expires_at,
        )
        shown = await voucher_usage(session, code)
        # The operator sees when it was first used on the network: API and CSV.
        assert VoucherRead.of(voucher).first_login_at == voucher.first_login_at
        batch = await session.get(VoucherBatch, voucher.batch_id)
        exported = "".join([chunk async for chunk in export.batch_csv(session, batch)])
    row = next(r for r in csv.DictReader(io.StringIO(exported)) if r["code"] == code)
    assert row["first_login_at"] == voucher.first_login_at.isoformat()
    assert shown.status == "active" and shown.expires_at == voucher.expires_at
    assert shown.seconds_left > 3500

    # Written once: the cache learns the start, and later logins and the router's
    # Accounting-Start leave it as it is.
    await eventually(
        lambda: (
            (cached(radius, isp.schema, code) or None)
            and cached(radius, isp.schema, code).first_login_validity is None
        )
    )
    assert (await radius_auth(radius, code, PHONE)).code == "Access-Accept"
    await radius_acct(radius, "Start", "first-login-1", code, PHONE)

    async def session_written():
        async with unit_of_work(isp.schema) as session:
            return await session.scalar(
                select(RadiusSession).where(RadiusSession.acct_session_id == "first-login-1")
            )

    await eventually(session_written)
    again = await _voucher(unit_of_work, isp.schema, code)
    assert (again.first_login_at, again.expires_at) == (voucher.first_login_at, voucher.expires_at)


async def test_an_accounting_start_starts_the_validity_too(radius, isp, unit_of_work):
    """A router that logged the phone in without asking this server's workers (or whose
    Access-Accept's note was lost) still starts the voucher with its Accounting-Start."""
    code = await voucher_of(unit_of_work, isp.schema)
    async with unit_of_work(isp.schema) as session:
        await redeem_voucher(
            session, code, mac=PHONE, ip=None, now=datetime.now(UTC) - timedelta(minutes=20)
        )
    before = datetime.now(UTC)
    await radius_acct(radius, "Start", "first-login-2", code, PHONE)

    async def started():
        voucher = await _voucher(unit_of_work, isp.schema, code)
        return voucher.first_login_at is not None and voucher

    voucher = await eventually(started)
    assert voucher.first_login_at >= before - timedelta(seconds=1)
    assert voucher.expires_at == voucher.first_login_at + HOUR


async def test_two_writers_start_a_voucher_once(isp, unit_of_work):
    """Two RADIUS workers (or a worker and the accounting loader) report the first login
    at once: the first to commit wins, the other waits for it and changes nothing."""
    from kiunga.tenants.vouchers.first_login import start_at_first_login

    code = await voucher_of(unit_of_work, isp.schema)
    redeemed = await redeem(unit_of_work, isp.schema, code, PHONE)
    now = datetime.now(UTC)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def first_writer():
        async with unit_of_work(isp.schema) as session:
            started = await start_at_first_login(session, {redeemed.service_id: now})
            holding.set()
            await release.wait()  # still uncommitted while the second one comes
            return started

    async def waiting_on_a_lock():
        async with unit_of_work(isp.schema) as session:
            return await session.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))

    first = asyncio.create_task(first_writer())
    held = asyncio.create_task(holding.wait())
    await asyncio.wait({first, held}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if first.done():  # it failed before holding its lock
        first.result()
    assert holding.is_set()
    later = now + timedelta(seconds=3)

    async def second_writer():
        async with unit_of_work(isp.schema) as session:
            return await start_at_first_login(session, {redeemed.service_id: later})

    second = asyncio.create_task(second_writer())
    await eventually(waiting_on_a_lock)
    release.set()
    won, lost = await asyncio.gather(first, second)

    assert won == {redeemed.service_id: (now, now + HOUR)}
    assert lost == {}
    voucher = await _voucher(unit_of_work, isp.schema, code)
    assert (voucher.first_login_at, voucher.expires_at) == (now, now + HOUR)
