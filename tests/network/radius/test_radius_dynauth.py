"""Disconnect-Requests to a router that refuses or does not answer: tried again with
backoff, each exchange recorded; a router that has no such session closes it here too."""

from __future__ import annotations

from kiunga.tenants.network.radius.dynauth import DynAuthPolicy, disconnect_service
from kiunga.tenants.network.radius.models import RadiusSession
from sqlalchemy import select

from fixtures.waiting import eventually

QUICK = DynAuthPolicy(rounds=3, backoff=0.05, retransmits=2, retry_after=0.2)


async def open_session(radius, unit_of_work, isp, username: str, session_id: str) -> int:
    start = {"Acct-Status-Type": "Start", "Acct-Session-Id": session_id, "User-Name": username}
    assert (await radius.acct(start)).code == "Accounting-Response"

    async def stored():
        async with unit_of_work(isp.schema) as session:
            return await session.scalar(
                select(RadiusSession.id).where(RadiusSession.acct_session_id == session_id)
            )

    return await eventually(stored)


async def test_a_nak_or_silence_is_tried_again_and_recorded(
    radius, isp, add_service, unit_of_work, router_listener
):
    service_id = await add_service(isp, "flaky", "flaky-pass")
    await open_session(radius, unit_of_work, isp, "flaky", "96000001")

    router_listener.answer, router_listener.error_cause = "nak", 506  # Resources Unavailable
    async with unit_of_work(isp.schema) as session:
        attempts = await disconnect_service(session, service_id, reason="test", policy=QUICK)
    assert [(a.outcome, a.error_cause, a.packets) for a in attempts] == [("nak", 506, 1)] * 3

    router_listener.answer = "ignore"
    async with unit_of_work(isp.schema) as session:
        attempts = await disconnect_service(session, service_id, reason="test", policy=QUICK)
    assert [(a.outcome, a.packets) for a in attempts] == [("timeout", 2)] * 3

    router_listener.answer = "ack"
    async with unit_of_work(isp.schema) as session:
        attempts = await disconnect_service(session, service_id, reason="test", policy=QUICK)
    assert [a.outcome for a in attempts] == ["ack"]
    assert len(router_listener.received) == 3 + 6 + 1


async def test_a_router_without_the_session_closes_it_here(
    radius, isp, add_service, unit_of_work, router_listener
):
    service_id = await add_service(isp, "gone-user", "gone-pass")
    session_row = await open_session(radius, unit_of_work, isp, "gone-user", "97000001")
    router_listener.answer, router_listener.error_cause = "nak", 503
    async with unit_of_work(isp.schema) as session:
        attempts = await disconnect_service(session, service_id, reason="test", policy=QUICK)
    assert [(a.outcome, a.error_cause) for a in attempts] == [("nak", 503)]
    async with unit_of_work(isp.schema) as session:
        closed = await session.get(RadiusSession, session_row)
    assert closed.stopped_at is not None and closed.terminate_cause == "Session-Not-Found"
