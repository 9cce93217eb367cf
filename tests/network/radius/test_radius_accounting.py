"""Accounting from radclient into the ISP's schema: sessions with their gigaword totals,
usage per service and UTC day, repeats that add nothing, Accounting-On closing a router's
sessions, and silent sessions closed by the worker's periodic job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kiunga.tenants.network.radius.jobs import close_stale_sessions
from kiunga.tenants.network.radius.models import RadiusSession, UsageDaily, UsagePeriod
from sqlalchemy import select, update

from fixtures.waiting import eventually

GIB4 = 1 << 32


def acct(status: str, session_id: str, username: str, **more) -> dict:
    attributes = {
        "Acct-Status-Type": status,
        "Acct-Session-Id": session_id,
        "User-Name": username,
        "NAS-IP-Address": "127.0.0.1",
        "Framed-IP-Address": "100.64.1.7",
    }
    attributes.update(more)
    return attributes


def reader(unit_of_work, schema):
    async def rows(model, *where):
        async with unit_of_work(schema) as session:
            return list(await session.scalars(select(model).where(*where)))

    return rows


async def test_start_interim_stop_make_a_session_and_daily_usage(
    radius, isp, add_service, unit_of_work
):
    service_id = await add_service(isp, "achieng", "achieng-pass")
    rows = reader(unit_of_work, isp.schema)
    start = await radius.acct(acct("Start", "81000001", "achieng"))
    assert start.code == "Accounting-Response", start.output
    interim = acct(
        "Interim-Update",
        "81000001",
        "achieng",
        **{
            "Acct-Input-Octets": 1000,
            "Acct-Input-Gigawords": 1,
            "Acct-Output-Octets": 5000,
            "Acct-Output-Gigawords": 2,
            "Acct-Session-Time": 300,
        },
    )
    assert (await radius.acct(interim)).code == "Accounting-Response"
    # The same totals again (a NAS repeating itself) add nothing.
    assert (await radius.acct(interim)).code == "Accounting-Response"
    stop = acct(
        "Stop",
        "81000001",
        "achieng",
        **{
            "Acct-Input-Octets": 3000,
            "Acct-Input-Gigawords": 1,
            "Acct-Output-Octets": 9000,
            "Acct-Output-Gigawords": 2,
            "Acct-Session-Time": 420,
            "Acct-Terminate-Cause": "User-Request",
        },
    )
    assert (await radius.acct(stop)).code == "Accounting-Response"

    async def stopped():
        found = await rows(RadiusSession, RadiusSession.acct_session_id == "81000001")
        return found if found and found[0].stopped_at is not None else None

    [session] = await eventually(stopped)
    assert session.service_id == service_id and session.router_id == isp.router_id
    assert session.input_octets == GIB4 + 3000
    assert session.output_octets == 2 * GIB4 + 9000
    assert session.terminate_cause == "User-Request"
    assert session.framed_ip == "100.64.1.7"
    assert session.session_time == 420
    [daily] = await rows(UsageDaily, UsageDaily.service_id == service_id)
    assert daily.day == datetime.now(UTC).date()
    assert (daily.input_octets, daily.output_octets) == (GIB4 + 3000, 2 * GIB4 + 9000)
    [period] = await rows(UsagePeriod, UsagePeriod.service_id == service_id)
    assert period.input_octets + period.output_octets == 3 * GIB4 + 12000


async def test_accounting_on_closes_the_routers_open_sessions(
    radius, isp, add_service, unit_of_work
):
    await add_service(isp, "mutua", "mutua-pass")
    rows = reader(unit_of_work, isp.schema)
    for session_id in ("82000001", "82000002"):
        assert (await radius.acct(acct("Start", session_id, "mutua"))).code == (
            "Accounting-Response"
        )
    await eventually(lambda: rows(RadiusSession, RadiusSession.username == "mutua"))
    await eventually(lambda: _count(rows(RadiusSession, RadiusSession.username == "mutua"), 2))
    reboot = {"Acct-Status-Type": "Accounting-On", "NAS-IP-Address": "127.0.0.1"}
    assert (await radius.acct(reboot)).code == "Accounting-Response"

    async def all_closed():
        found = await rows(RadiusSession, RadiusSession.username == "mutua")
        return all(s.stopped_at is not None for s in found) and found

    closed = await eventually(all_closed)
    assert {s.terminate_cause for s in closed} == {"NAS-Reboot"}


async def _count(pending, expected: int) -> bool:
    return len(await pending) == expected


async def test_sessions_silent_for_two_interims_are_closed(radius, isp, add_service, unit_of_work):
    await add_service(isp, "silent-one", "silent-pass")
    rows = reader(unit_of_work, isp.schema)
    assert (await radius.acct(acct("Start", "83000001", "silent-one"))).code == (
        "Accounting-Response"
    )
    assert (await radius.acct(acct("Start", "83000002", "silent-one"))).code == (
        "Accounting-Response"
    )
    await eventually(lambda: _count(rows(RadiusSession, RadiusSession.username == "silent-one"), 2))
    long_ago = datetime.now(UTC) - timedelta(seconds=700)
    async with unit_of_work(isp.schema) as session:
        await session.execute(
            update(RadiusSession)
            .where(RadiusSession.acct_session_id == "83000001")
            .values(updated_at=long_ago)
        )
    async with unit_of_work(isp.schema) as session:
        assert await close_stale_sessions(session, interim_seconds=300) == 1
    found = {
        s.acct_session_id: s
        for s in await rows(RadiusSession, RadiusSession.username == "silent-one")
    }
    assert found["83000001"].stopped_at == long_ago
    assert found["83000001"].terminate_cause == "Stale"
    assert found["83000002"].stopped_at is None


async def test_a_stale_session_that_reports_again_is_reopened(
    radius, isp, add_service, unit_of_work
):
    await add_service(isp, "back-again", "pass-back")
    rows = reader(unit_of_work, isp.schema)
    assert (await radius.acct(acct("Start", "84000001", "back-again"))).code == (
        "Accounting-Response"
    )
    await eventually(lambda: rows(RadiusSession, RadiusSession.acct_session_id == "84000001"))
    async with unit_of_work(isp.schema) as session:
        await session.execute(
            update(RadiusSession)
            .where(RadiusSession.acct_session_id == "84000001")
            .values(updated_at=datetime.now(UTC) - timedelta(seconds=700))
        )
    async with unit_of_work(isp.schema) as session:
        assert await close_stale_sessions(session, interim_seconds=300) == 1
    interim = acct("Interim-Update", "84000001", "back-again", **{"Acct-Input-Octets": 10})
    assert (await radius.acct(interim)).code == "Accounting-Response"

    async def reopened():
        [found] = await rows(RadiusSession, RadiusSession.acct_session_id == "84000001")
        return found.stopped_at is None and found.input_octets == 10 and found

    assert (await eventually(reopened)).terminate_cause is None


async def test_a_session_id_used_again_after_a_stop_is_a_new_session(
    radius, isp, add_service, unit_of_work
):
    service_id = await add_service(isp, "reused-id", "pass-reused")
    rows = reader(unit_of_work, isp.schema)
    first = acct(
        "Stop",
        "85000001",
        "reused-id",
        **{"Acct-Input-Octets": 700, "Acct-Output-Octets": 900, "Acct-Session-Time": 60},
    )
    assert (await radius.acct(first)).code == "Accounting-Response"
    await eventually(lambda: rows(RadiusSession, RadiusSession.username == "reused-id"))
    # The router rebooted and its counter came round to the same id.
    again = acct(
        "Interim-Update",
        "85000001",
        "reused-id",
        **{"Acct-Input-Octets": 100, "Acct-Output-Octets": 200, "Acct-Session-Time": 0},
    )
    assert (await radius.acct(again)).code == "Accounting-Response"
    sessions = await eventually(
        lambda: _at_least(rows(RadiusSession, RadiusSession.username == "reused-id"), 2)
    )
    by_id = {s.acct_session_id: s for s in sessions}
    assert by_id["85000001"].stopped_at is None
    assert (by_id["85000001"].input_octets, by_id["85000001"].output_octets) == (100, 200)
    [old] = [s for s in sessions if s.acct_session_id.startswith("85000001#")]
    assert (old.input_octets, old.output_octets) == (700, 900)
    [daily] = await rows(UsageDaily, UsageDaily.service_id == service_id)
    assert (daily.input_octets, daily.output_octets) == (800, 1100)


async def _at_least(pending, count: int):
    found = await pending
    return found if len(found) >= count else None
