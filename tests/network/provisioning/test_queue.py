"""The per-router command queue: a router offline keeps its commands pending, in order,
until it is back; a refused command keeps its error (on the command and the router), is
tried again after a pause and given up after its last try; items not Kiunga's are never
touched; two ISPs sharing one router only ever touch their own items; sites decide which
router holds which service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from kiunga.integrations.routeros.client import RouterOSClient
from kiunga.tenants.catalog.models import ServiceType
from kiunga.tenants.network.models import Router
from kiunga.tenants.network.provisioning.desired import serves
from kiunga.tenants.network.provisioning.models import CommandKind, CommandStatus
from kiunga.tenants.network.provisioning.runner import MAX_ATTEMPTS, apply_pending, run_queues
from kiunga.tenants.services.lifecycle import suspend_service, terminate_service

from fixtures.provisioning import (
    ADDRESS_LIST,
    PPP_ACTIVE,
    PPP_PROFILE,
    PPP_SECRET,
    SIMPLE_QUEUE,
    STAFF,
)


async def router_row(isp, router_id=None) -> Router:
    async with isp.session() as session:
        return await session.get(Router, router_id or isp.router_id)


async def test_offline_router_keeps_commands_pending_and_applies_them_in_order(isp, mikrotik):
    package = await isp.add_package()
    mikrotik.offline()
    first = await isp.add_service(package, username="first", password="pw-first-1")
    second = await isp.add_service(package, username="second", password="pw-second-2")
    async with isp.session() as session:
        await suspend_service(session, first, reason="unpaid", actor=STAFF)
    await isp.deliver()

    waiting = [c for c in await isp.commands() if c.status is CommandStatus.PENDING]
    assert [c.payload["service_id"] for c in waiting] == [first, second, first]
    assert [c.sequence for c in waiting] == sorted(c.sequence for c in waiting)
    assert all(c.attempts == 0 and c.last_error.startswith("Unreachable") for c in waiting)
    router = await router_row(isp)
    assert router.last_error.startswith("Unreachable") and not router.online
    assert mikrotik.state.rows(PPP_SECRET) == []

    # Still offline a minute later: nothing is lost, nothing is given up.
    report = await run_queues(isp.database, isp.schema, isp.slug)
    assert report["unreachable"] == 1 and report["applied"] == 0

    mikrotik.online()
    report = await run_queues(isp.database, isp.schema, isp.slug)
    assert report == {"routers": 1, "applied": 3, "refused": 0, "failed": 0, "unreachable": 0}
    done = [c for c in await isp.commands() if c.id in {w.id for w in waiting}]
    assert all(c.status is CommandStatus.DONE and c.last_error is None for c in done)
    assert [c.done_at for c in done] == sorted(c.done_at for c in done)
    secrets = {row["name"]: row for row in mikrotik.state.rows(PPP_SECRET)}
    assert secrets["first"]["disabled"] == "true" and secrets["second"]["disabled"] == "false"
    # Added in the order the services were: first's secret before second's.
    adds = [s for s in mikrotik.state.commands if s[0] == "/ppp/secret/add"]
    assert ["=name=first" in s for s in adds] == [True, False]
    assert (await router_row(isp)).online


async def test_a_refused_command_is_recorded_retried_and_given_up(isp, mikrotik):
    package = await isp.add_package()
    mikrotik.state.fail_next("/ppp/secret/add", "failure: not enough memory")
    service = await isp.add_service(package, username="trapped", password="pw-trap-1")
    await isp.deliver()

    [command] = [c for c in await isp.commands() if c.kind is CommandKind.SYNC_SERVICE]
    assert command.status is CommandStatus.PENDING and command.attempts == 1
    assert "not enough memory" in command.last_error and "trapped" in command.last_error
    assert command.next_attempt_at is not None
    router = await router_row(isp)
    assert router.last_error.startswith("Provisioning:")
    assert "not enough memory" in router.last_error
    assert mikrotik.state.find(PPP_SECRET, name="trapped") == []
    assert mikrotik.state.find(PPP_PROFILE, name=f"{isp.slug}-pkg-{package}")  # the rest done

    # Not before its pause is over...
    async with isp.session() as session:
        report = await apply_pending(session, isp.slug, isp.router_id)
    assert report.applied == 0
    # ...then again, and it goes through.
    async with isp.session() as session:
        later = command.next_attempt_at + timedelta(seconds=1)
        report = await apply_pending(session, isp.slug, isp.router_id, now=later)
    assert report.applied == 1
    [command] = [c for c in await isp.commands() if c.kind is CommandKind.SYNC_SERVICE]
    assert command.status is CommandStatus.DONE and command.attempts == 2
    assert mikrotik.state.find(PPP_SECRET, name="trapped")[0]["comment"].endswith(f"svc-{service}")

    # A refusal that lasts is given up after the last try.
    mikrotik.state.fail_next("/ppp/secret/set", "failure: locked", times=MAX_ATTEMPTS + 1)
    async with isp.session() as session:
        await suspend_service(session, service, reason="unpaid", actor=STAFF)
    await isp.deliver()
    for _ in range(MAX_ATTEMPTS):
        [*_, last] = await isp.commands()
        if last.status is not CommandStatus.PENDING:
            break
        async with isp.session() as session:
            await apply_pending(
                session, isp.slug, isp.router_id, now=last.next_attempt_at + timedelta(seconds=1)
            )
    [*_, last] = await isp.commands()
    assert last.status is CommandStatus.FAILED and last.attempts == MAX_ATTEMPTS
    assert "failure: locked" in last.last_error and last.done_at is not None


async def test_items_not_kiungas_are_never_touched(isp, mikrotik):
    async with RouterOSClient(mikrotik.connection()) as admin:
        await admin.add(PPP_SECRET, name="backhaul", password="x", profile="default")
        await admin.add(PPP_SECRET, name="taken", password="staff-pass", comment="by hand")
        await admin.add(SIMPLE_QUEUE, name="office", target="10.9.9.9/32", max_limit="1M/1M")
        await admin.add(ADDRESS_LIST, list="kiunga-suspended", address="10.20.0.99")
        await admin.add(PPP_PROFILE, name="staff-profile", rate_limit="100M/100M")
    by_hand = {
        path: {row[".id"]: row for row in mikrotik.state.rows(path)}
        for path in (PPP_SECRET, SIMPLE_QUEUE, ADDRESS_LIST, PPP_PROFILE)
    }
    mikrotik.state.login_ppp("backhaul")

    package = await isp.add_package()
    static = await isp.add_package(ServiceType.STATIC, rate_limit="2M/2M")
    ours = await isp.add_service(package, username="ours", password="pw-ours-1")
    clash = await isp.add_service(package, username="taken", password="pw-taken-1")
    address = await isp.add_service(static, static_ip="10.20.0.7")
    for service in (ours, clash, address):
        async with isp.session() as session:
            await suspend_service(session, service, reason="unpaid", actor=STAFF)
    await isp.deliver()
    await run_queues(isp.database, isp.schema, isp.slug, full_sync=True)

    for path, rows in by_hand.items():
        now = {row[".id"]: row for row in mikrotik.state.rows(path)}
        for item_id, row in rows.items():
            assert now[item_id] == row, (path, row)
    touched = {word for s in mikrotik.state.commands for word in s if word.startswith("=.id=")}
    assert not touched & {f"=.id={item_id}" for rows in by_hand.values() for item_id in rows}
    assert mikrotik.state.find(PPP_ACTIVE, name="backhaul")  # its session is not ours to cut
    assert mikrotik.state.find(PPP_SECRET, name="ours")[0]["disabled"] == "true"
    assert mikrotik.state.find(PPP_SECRET, name="taken")[0]["password"] == "staff-pass"
    # The clash is reported, on the command and on the router.
    refused = [c for c in await isp.commands() if c.last_error and "taken" in c.last_error]
    assert refused and "already exists" in refused[-1].last_error
    assert "taken" in (await router_row(isp)).last_error


async def test_two_isps_sharing_one_router_touch_only_their_own(make_isp, mikrotik):
    east, west = make_isp(), make_isp()
    for isp in (east, west):
        await isp.add_router(mikrotik)
        await isp.deliver()
    east_package, west_package = await east.add_package(), await west.add_package()
    east_service = await east.add_service(east_package, username="e-user", password="pw-e-1")
    west_service = await west.add_service(west_package, username="w-user", password="pw-w-1")
    await east.deliver()
    await west.deliver()

    def marked(isp):
        return sorted(
            row["comment"]
            for path in (PPP_PROFILE, PPP_SECRET)
            for row in mikrotik.state.rows(path)
            if row.get("comment", "").startswith(f"kiunga:{isp.slug}:")
        )

    assert marked(east) == sorted([f"kiunga:{east.slug}:pkg-{east_package}",
                                   f"kiunga:{east.slug}:svc-{east_service}"])  # fmt: skip
    assert len(marked(west)) == 2
    # East's full sync leaves West's items; West's termination removes only its own.
    await run_queues(east.database, east.schema, east.slug, full_sync=True)
    async with west.session() as session:
        await terminate_service(session, west_service, reason="left", actor=STAFF)
    await west.deliver()
    await run_queues(west.database, west.schema, west.slug, full_sync=True)
    assert [r["name"] for r in mikrotik.state.rows(PPP_SECRET)] == ["e-user"]
    assert len(marked(east)) == 2 and marked(west) == []  # West's unused profile went too


async def test_sites_decide_which_router_holds_a_service(make_isp, mikrotik):
    from kiunga.integrations.routeros.emulator import RouterEmulator

    isp = make_isp()
    north, south = await isp.add_site("North"), await isp.add_site("South")
    with RouterEmulator(username="kiunga", password="Mt-api-pass-4417") as south_router:
        north_id = await isp.add_router(mikrotik, site_id=north)
        south_id = await isp.add_router(south_router, site_id=south)
        everywhere = await isp.add_package()
        south_only = await isp.add_package(sites=(south,))
        await isp.add_service(everywhere, username="at-north", password="pw-1", site_id=north)
        await isp.add_service(everywhere, username="no-site", password="pw-2")
        await isp.add_service(south_only, username="south-pkg", password="pw-3")
        await isp.deliver()

        def names(router):
            return sorted(row["name"] for row in router.state.rows(PPP_SECRET))

        assert names(mikrotik) == ["at-north", "no-site"]
        assert names(south_router) == ["no-site", "south-pkg"]
        for router_id in (north_id, south_id):
            assert all(c.status is CommandStatus.DONE for c in await isp.commands(router_id))


@pytest.mark.parametrize(
    ("router_site", "subscriber_site", "package_sites", "held"),
    [
        (None, 1, [2], True),  # a router with no site serves the whole ISP
        (1, 1, [2], True),  # the subscriber's site decides when it has one
        (1, 2, [], False),
        (1, None, [], True),  # no site: wherever the package is offered
        (1, None, [1, 2], True),
        (1, None, [2], False),
    ],
)
def test_which_router_serves_which_service(router_site, subscriber_site, package_sites, held):
    assert serves(router_site, subscriber_site, package_sites) is held


async def test_finished_commands_are_forgotten_after_a_month(isp, mikrotik):
    from kiunga.tenants.network.provisioning.runner import KEEP_FINISHED, prune

    await isp.add_service(await isp.add_package(), username="old-news", password="pw-old-1")
    await isp.deliver()
    mikrotik.offline()
    await isp.add_service(await isp.add_package(), username="waiting", password="pw-wait-1")
    await isp.deliver()
    before = await isp.commands()
    async with isp.session() as session:
        assert await prune(session) == 0
        later = max(c.done_at for c in before if c.done_at) + KEEP_FINISHED + timedelta(1)
        assert await prune(session, now=later) == 2  # the router's first sync and one service
    [left] = await isp.commands()
    assert left.status is CommandStatus.PENDING


def test_a_password_the_router_does_not_show_is_not_written_again():
    from kiunga.tenants.network.provisioning.desired import Item
    from kiunga.tenants.network.provisioning.diff import differences

    item = Item(PPP_SECRET, "svc-1", {"name": "a", "password": "p", "disabled": "no"})
    shown = {".id": "*1", "name": "a", "password": "old", "disabled": "false", "comment": "m"}
    assert differences(shown, item, {"comment": "m"}) == {"password": "p"}
    hidden = {k: v for k, v in shown.items() if k != "password"}
    assert differences(hidden, item, {"comment": "m"}) == {}


async def test_commands_queued_at_once_are_numbered_without_gaps_or_twins(isp):
    from kiunga.tenants.network.provisioning.queue import enqueue

    async def one(number: int) -> int:
        async with isp.session() as session:
            command = await enqueue(
                session, isp.router_id, CommandKind.SYNC_SERVICE, {"service_id": number}
            )
            return command.sequence

    import asyncio

    numbers = await asyncio.gather(*(one(n) for n in range(8)))
    first = len(await isp.commands()) - 8  # the router's own sync_all came first
    assert sorted(numbers) == list(range(first + 1, first + 9))


async def test_an_event_handled_twice_queues_one_command(isp, mikrotik):
    from kiunga.platform.jobs.outbox import OutboxEvent
    from kiunga.tenants.network.provisioning.jobs import handle_service_event
    from sqlalchemy import select

    await isp.add_service(await isp.add_package(), username="twice", password="pw-twice")
    await isp.deliver()
    sent = len(mikrotik.state.commands)
    async with isp.session() as session:
        event = await session.scalar(
            select(OutboxEvent).where(OutboxEvent.topic == "service.activated")
        )
        result = await handle_service_event(session, isp.slug, event)
    assert result["routers"] == 1
    assert len([c for c in await isp.commands() if c.event_id == event.id]) == 1
    assert len(mikrotik.state.commands) == sent  # nothing left to apply: not even a login


async def test_one_run_per_router_at_a_time(isp, mikrotik):
    from kiunga.tenants.network.provisioning.queue import enqueue, enqueue_sync_all

    async with isp.session() as session:
        await enqueue_sync_all(session, isp.router_id)
    async with isp.session() as holder:
        first = await apply_pending(holder, isp.slug, isp.router_id)
        assert first.applied == 1
        async with isp.session() as other:
            await enqueue(other, isp.router_id, CommandKind.SYNC_SERVICE, {"service_id": 0})
        async with isp.session() as other:
            second = await apply_pending(other, isp.slug, isp.router_id, wait_seconds=0.2)
        assert second.busy and second.applied == 0
    async with isp.session() as session:
        assert (await apply_pending(session, isp.slug, isp.router_id)).applied == 1


async def test_wrong_credentials_keep_commands_pending(isp, mikrotik):
    mikrotik.state.users["kiunga"] = "changed-on-the-router"
    await isp.add_service(await isp.add_package(), username="locked", password="pw-lock-1")
    await isp.deliver()
    [*_, waiting] = await isp.commands()
    assert waiting.status is CommandStatus.PENDING and waiting.attempts == 0
    assert waiting.last_error.startswith("Wrong credentials")
    assert (await router_row(isp)).last_error.startswith("Wrong credentials")


async def test_an_unreadable_router_password_keeps_commands_pending(isp, mikrotik):
    from kiunga.tenants.network.secrets import encrypt

    async with isp.session() as session:
        router = await session.get(Router, isp.router_id)
        router.api_password_encrypted = encrypt("x", secret_key="another-key-" + "k" * 32)
    await isp.add_service(await isp.add_package(), username="no-login", password="pw-nl-1")
    await isp.deliver()
    [*_, waiting] = await isp.commands()
    assert waiting.status is CommandStatus.PENDING
    assert waiting.last_error.startswith("Cannot log in: the router credential")
    assert not mikrotik.state.find(PPP_SECRET, name="no-login")
