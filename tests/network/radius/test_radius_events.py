"""A service's changes reach the router both ways: the next Access-Request is answered
differently within the cache's bound, and the live session gets a Disconnect-Request or a
CoA (sent by the worker's outbox handlers to the CoA listener playing the router)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from kiunga.platform.models import StaffRole
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.network.radius.models import DynAuthAttempt, RadiusSession, UsagePeriod
from kiunga.tenants.services.lifecycle import (
    change_package,
    expire_service,
    renew_service,
    restore_service,
    suspend_service,
    terminate_service,
)
from kiunga.tenants.services.models import Service
from sqlalchemy import select

from fixtures.radius import NOTIFY_BOUND, STAFF
from fixtures.waiting import eventually


def requests_for(listener, username: str, kind: str) -> list:
    return [
        request
        for request in listener.received
        if request.kind == kind and request.attributes.get("User-Name") == [username]
    ]


async def start_session(radius, unit_of_work, isp, username: str, session_id: str, **octets):
    attributes = {
        "Acct-Status-Type": "Interim-Update" if octets else "Start",
        "Acct-Session-Id": session_id,
        "User-Name": username,
        "Framed-IP-Address": "100.64.2.9",
    }
    attributes.update(octets)
    reply = await radius.acct(attributes)
    assert reply.code == "Accounting-Response", reply.output

    async def stored():
        async with unit_of_work(isp.schema) as session:
            return await session.scalar(
                select(RadiusSession).where(RadiusSession.acct_session_id == session_id)
            )

    return await eventually(stored)


async def answer(radius, username: str, password: str, code: str, message: str | None = None):
    """Poll radclient until the answer is `code` (and Reply-Message `message`): the
    staleness bound, measured."""

    async def check():
        reply = await radius.auth(username, password)
        if reply.code != code:
            return None
        if message is not None and reply.attributes.get("Reply-Message") != message:
            return None
        return reply

    return await eventually(check, within=NOTIFY_BOUND)


async def attempts(unit_of_work, isp, service_id: int) -> list[DynAuthAttempt]:
    async with unit_of_work(isp.schema) as session:
        return list(
            await session.scalars(
                select(DynAuthAttempt)
                .where(DynAuthAttempt.service_id == service_id)
                .order_by(DynAuthAttempt.id)
            )
        )


async def test_suspension_refuses_and_disconnects_and_restoring_lets_back_in(
    radius, worker, isp, add_service, unit_of_work, router_listener, client_for, login, make_staff
):
    service_id = await add_service(isp, "njeri", "njeri-pass")
    await answer(radius, "njeri", "njeri-pass", "Access-Accept")
    live = await start_session(radius, unit_of_work, isp, "njeri", "91000001")
    assert live.service_id == service_id

    async with unit_of_work(isp.schema) as session:
        await suspend_service(session, service_id, reason="staff: unpaid", actor=STAFF)
    await answer(radius, "njeri", "njeri-pass", "Access-Reject", "Account suspended")
    # The reason is only for someone who knows the password.
    wrong = await radius.auth("njeri", "guess")
    assert wrong.attributes["Reply-Message"] == "Wrong password"

    [disconnect] = await eventually(lambda: requests_for(router_listener, "njeri", "disconnect"))
    assert disconnect.attributes["Acct-Session-Id"] == ["91000001"]
    assert disconnect.attributes["Framed-IP-Address"] == ["100.64.2.9"]
    assert disconnect.had_message_authenticator
    [attempt] = await eventually(lambda: attempts(unit_of_work, isp, service_id))
    assert (attempt.kind, attempt.outcome, attempt.reason) == (
        "disconnect",
        "ack",
        "service.suspended",
    )
    assert attempt.router_id == isp.router_id and attempt.session_id == live.id

    # Staff see the router's last answer beside the service.
    console = client_for(isp.tenant.host)
    signed = await login(console, make_staff(isp.tenant.id, role=StaffRole.SUPPORT))
    assert signed.status_code == 303, signed.text
    async with unit_of_work(isp.schema) as session:
        subscriber_id = (await session.get(Service, service_id)).subscriber_id
    page = await console.get(f"/services?subscriber_id={subscriber_id}")
    assert page.status_code == 200
    assert "router: disconnect ack" in page.text

    async with unit_of_work(isp.schema) as session:
        await restore_service(session, service_id, actor=STAFF)
    await answer(radius, "njeri", "njeri-pass", "Access-Accept")

    # Terminated: the login is free, nobody's; a session opened meanwhile is ended.
    await start_session(radius, unit_of_work, isp, "njeri", "91000002")
    async with unit_of_work(isp.schema) as session:
        await terminate_service(session, service_id, reason="moved away", actor=STAFF)
    await answer(radius, "njeri", "njeri-pass", "Access-Reject", "Unknown user")
    ended = await eventually(lambda: _two(requests_for(router_listener, "njeri", "disconnect")))
    assert ended[1].attributes["Acct-Session-Id"] == ["91000002"]


async def test_expiry_refuses_and_a_payment_lets_back_in(
    radius, worker, isp, add_service, unit_of_work, router_listener
):
    service_id = await add_service(isp, "chebet", "chebet-pass", price=50_000)
    await answer(radius, "chebet", "chebet-pass", "Access-Accept")
    await start_session(radius, unit_of_work, isp, "chebet", "92000001")
    async with unit_of_work(isp.schema) as session:
        service = await session.get(Service, service_id)
        ended = service.expires_at + timedelta(seconds=1)
        await expire_service(session, service_id, actor=STAFF, now=ended)
    await answer(radius, "chebet", "chebet-pass", "Access-Reject", "Subscription expired")
    await eventually(lambda: requests_for(router_listener, "chebet", "disconnect"))

    async with unit_of_work(isp.schema) as session:
        service = await session.get(Service, service_id)
        await record_payment(
            session,
            service.subscriber_id,
            50_000,
            method="mpesa",
            reference=f"RP{uuid.uuid4().hex[:10].upper()}",
            received_at=ended + timedelta(minutes=1),
            actor=Actor.system("mpesa"),
        )
    await answer(radius, "chebet", "chebet-pass", "Access-Accept")


async def test_a_package_change_re_rates_the_live_session(
    radius, worker, isp, add_service, unit_of_work, router_listener
):
    service_id = await add_service(isp, "kiprop", "kiprop-pass")
    await start_session(radius, unit_of_work, isp, "kiprop", "93000001")
    async with unit_of_work(isp.schema) as session:
        faster = Package(
            name=f"Fibre {uuid.uuid4().hex[:6]}",
            price=100_000,
            currency="KES",
            billing_type=BillingType.PREPAID,
            validity_count=1,
            validity_unit=ValidityUnit.MONTH,
            service_type=ServiceType.PPPOE,
            rate_limit="20M/20M",
        )
        session.add(faster)
        await session.flush()
        await change_package(session, service_id, faster.id, actor=STAFF, allow_unpaid=True)

    async def re_rated():
        reply = await radius.auth("kiprop", "kiprop-pass")
        return reply.attributes.get("Mikrotik-Rate-Limit") == "20M/20M"

    await eventually(re_rated, within=NOTIFY_BOUND)
    [coa] = await eventually(lambda: requests_for(router_listener, "kiprop", "coa"))
    assert coa.attributes["Mikrotik-Rate-Limit"] == ["20M/20M"]
    assert coa.attributes["Acct-Session-Id"] == ["93000001"]


async def test_a_cap_with_a_fair_usage_rate_throttles(
    radius, worker, isp, add_service, unit_of_work, router_listener
):
    cap = 10_000_000
    service_id = await add_service(
        isp, "fup-user", "fup-pass", data_cap_bytes=cap, fup_rate_limit="1M/1M"
    )
    await answer(radius, "fup-user", "fup-pass", "Access-Accept")
    await start_session(radius, unit_of_work, isp, "fup-user", "94000001")
    await start_session(
        radius,
        unit_of_work,
        isp,
        "fup-user",
        "94000001",
        **{"Acct-Input-Octets": 2_000_000, "Acct-Output-Octets": 9_000_000},
    )
    [coa] = await eventually(lambda: requests_for(router_listener, "fup-user", "coa"))
    assert coa.attributes["Mikrotik-Rate-Limit"] == ["1M/1M"]

    async def throttled():
        reply = await radius.auth("fup-user", "fup-pass")
        return reply.attributes.get("Mikrotik-Rate-Limit") == "1M/1M" and reply

    reply = await eventually(throttled, within=NOTIFY_BOUND)
    assert reply.code == "Access-Accept" and "Mikrotik-Total-Limit" not in reply.attributes
    async with unit_of_work(isp.schema) as session:
        period = await session.scalar(
            select(UsagePeriod).where(UsagePeriod.service_id == service_id)
        )
    assert period.cap_reached_at is not None
    [attempt] = await eventually(lambda: attempts(unit_of_work, isp, service_id))
    assert (attempt.kind, attempt.outcome, attempt.reason) == ("coa", "ack", "service.cap_reached")

    # The next period starts with the full rate and its own time, on the live session too.
    async with unit_of_work(isp.schema) as session:
        service = await session.get(Service, service_id)
        await record_payment(
            session,
            service.subscriber_id,
            100_000,
            method="mpesa",
            reference=f"RN{uuid.uuid4().hex[:10].upper()}",
            received_at=service.expires_at - timedelta(days=1),
            actor=Actor.system("mpesa"),
        )
        await renew_service(session, service_id, actor=STAFF, now=service.expires_at)
    [_, full] = await eventually(lambda: _two(requests_for(router_listener, "fup-user", "coa")))
    assert full.attributes["Mikrotik-Rate-Limit"] == ["5M/10M"]
    # and the new period's time: the session is not cut at the old expiry
    assert full.attributes["Session-Timeout"][0] > 27 * 86400

    async def full_rate():
        reply = await radius.auth("fup-user", "fup-pass")
        return reply.attributes.get("Mikrotik-Rate-Limit") == "5M/10M"

    await eventually(full_rate, within=NOTIFY_BOUND)


def _two(found: list) -> list | None:
    return found if len(found) == 2 else None


async def test_a_cap_without_a_fair_usage_rate_disconnects(
    radius, worker, isp, add_service, unit_of_work, router_listener
):
    cap = 10_000_000
    await add_service(isp, "bundle-user", "bundle-pass", data_cap_bytes=cap)
    before = await answer(radius, "bundle-user", "bundle-pass", "Access-Accept")
    assert before.attributes["Mikrotik-Total-Limit"] == str(cap)
    await start_session(
        radius,
        unit_of_work,
        isp,
        "bundle-user",
        "95000001",
        **{"Acct-Input-Octets": 1_000_000, "Acct-Output-Octets": 3_000_000},
    )
    left = await eventually(
        lambda: _total_limit(radius, "bundle-user", "bundle-pass", str(cap - 4_000_000)),
        within=NOTIFY_BOUND,
    )
    assert left
    await start_session(
        radius,
        unit_of_work,
        isp,
        "bundle-user",
        "95000001",
        **{"Acct-Input-Octets": 1_000_000, "Acct-Output-Octets": 9_500_000},
    )
    await eventually(lambda: requests_for(router_listener, "bundle-user", "disconnect"))
    await answer(radius, "bundle-user", "bundle-pass", "Access-Reject", "Data bundle used up")


async def _total_limit(radius, username, password, expected):
    reply = await radius.auth(username, password)
    return reply.attributes.get("Mikrotik-Total-Limit") == expected
