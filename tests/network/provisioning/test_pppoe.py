"""A PPPoE service on an api-mode router, through the outbox handlers and the real client
against the RouterOS emulator: activation adds the package's profile and an enabled
secret, suspension disables it and cuts the session at once, payment enables it again,
termination removes it."""

from __future__ import annotations

from datetime import timedelta

from kiunga.platform.db.base import utcnow
from kiunga.tenants.network.provisioning.models import CommandKind, CommandStatus
from kiunga.tenants.services.lifecycle import (
    expire_service,
    restore_service,
    suspend_service,
    terminate_service,
)
from kiunga.tenants.services.models import Service

from fixtures.provisioning import PPP_ACTIVE, PPP_PROFILE, PPP_SECRET, STAFF, changes_sent


async def test_activate_suspend_restore_terminate(isp, mikrotik):
    package = await isp.add_package(rate_limit="5M/10M")
    service = await isp.add_service(package, username="wanjiku", password="s3cret-pass")
    await isp.deliver()

    mark = f"kiunga:{isp.slug}:"
    [profile] = mikrotik.state.find(PPP_PROFILE, comment=f"{mark}pkg-{package}")
    assert profile["name"] == f"{isp.slug}-pkg-{package}" and profile["rate-limit"] == "5M/10M"
    [secret] = mikrotik.state.find(PPP_SECRET, name="wanjiku")
    assert secret["comment"] == f"{mark}svc-{service}"
    assert secret["password"] == "s3cret-pass" and secret["profile"] == profile["name"]
    assert secret["service"] == "pppoe" and secret["disabled"] == "false"
    first_sync, command = await isp.commands()  # the router's own sync_all when it was added
    assert first_sync.kind is CommandKind.SYNC_ALL and first_sync.status is CommandStatus.DONE
    assert command.kind is CommandKind.SYNC_SERVICE and command.payload == {"service_id": service}
    assert command.status is CommandStatus.DONE and command.attempts == 1
    assert "added PPP secret wanjiku" in command.summary

    # Suspended: the secret is disabled and the live session cut at once.
    mikrotik.state.login_ppp("wanjiku")
    async with isp.session() as session:
        await suspend_service(session, service, reason="staff", actor=STAFF)
    await isp.deliver()
    [secret] = mikrotik.state.find(PPP_SECRET, name="wanjiku")
    assert secret["disabled"] == "true"
    assert mikrotik.state.find(PPP_ACTIVE, name="wanjiku") == []

    async with isp.session() as session:
        await restore_service(session, service, actor=STAFF)
    await isp.deliver()
    assert mikrotik.state.find(PPP_SECRET, name="wanjiku")[0]["disabled"] == "false"
    assert [c.status for c in await isp.commands()] == [CommandStatus.DONE] * 4

    async with isp.session() as session:
        await terminate_service(session, service, reason="moved away", actor=STAFF)
    await isp.deliver()
    assert mikrotik.state.find(PPP_SECRET, name="wanjiku") == []


async def test_expiry_disables_and_payment_enables_again(isp, mikrotik):
    package = await isp.add_package(rate_limit="2M/4M")
    service = await isp.add_service(package, username="otieno", password="pw-otieno-1")
    await isp.deliver()
    mikrotik.state.login_ppp("otieno")

    async with isp.session() as session:
        row = await session.get(Service, service)
        await expire_service(session, service, actor=STAFF, now=row.expires_at + timedelta(1))
    await isp.deliver()
    assert mikrotik.state.find(PPP_SECRET, name="otieno")[0]["disabled"] == "true"
    assert mikrotik.state.find(PPP_ACTIVE, name="otieno") == []

    await isp.pay(service)  # the payment restores the expired service
    await isp.deliver()
    assert mikrotik.state.find(PPP_SECRET, name="otieno")[0]["disabled"] == "false"
    async with isp.session() as session:
        assert (await session.get(Service, service)).expires_at > utcnow()


async def test_a_second_sync_changes_nothing(isp, mikrotik):
    from kiunga.tenants.network.provisioning.runner import run_queues

    package = await isp.add_package()
    for number in range(3):
        await isp.add_service(package, username=f"user{number}", password=f"pw-{number}-x")
    await isp.deliver()
    sent = len(changes_sent(mikrotik))
    assert sent == 4  # one profile, three secrets

    report = await run_queues(isp.database, isp.schema, isp.slug, full_sync=True)
    assert report["applied"] == 1 and len(changes_sent(mikrotik)) == sent
    last = (await isp.commands())[-1]
    assert last.kind is CommandKind.SYNC_ALL and last.summary == "nothing to change"


async def test_a_package_change_moves_the_secret_to_the_new_profile(isp, mikrotik):
    from kiunga.tenants.services.lifecycle import change_package

    slow = await isp.add_package(rate_limit="2M/2M")
    fast = await isp.add_package(rate_limit="20M/40M")
    service = await isp.add_service(slow, username="upgrader", password="pw-up-1")
    await isp.deliver()
    async with isp.session() as session:
        await change_package(session, service, fast, actor=STAFF, allow_unpaid=True)
    await isp.deliver()

    [secret] = mikrotik.state.find(PPP_SECRET, name="upgrader")
    assert secret["profile"] == f"{isp.slug}-pkg-{fast}"
    [profile] = mikrotik.state.find(PPP_PROFILE, name=secret["profile"])
    assert profile["rate-limit"] == "20M/40M"
    # The old profile, used by nothing now, goes at the next full sync.
    from kiunga.tenants.network.provisioning.runner import run_queues

    await run_queues(isp.database, isp.schema, isp.slug, full_sync=True)
    assert not mikrotik.state.find(PPP_PROFILE, name=f"{isp.slug}-pkg-{slow}")
    assert mikrotik.state.find(PPP_PROFILE, name=f"{isp.slug}-pkg-{fast}")


async def test_a_username_freed_and_taken_again(isp, mikrotik):
    from kiunga.tenants.network.provisioning.queue import enqueue
    from kiunga.tenants.network.provisioning.runner import apply_pending, run_queues

    package = await isp.add_package()
    old = await isp.add_service(package, username="shared-name", password="pw-old-1")
    await isp.deliver()
    mikrotik.offline()
    async with isp.session() as session:
        await terminate_service(session, old, reason="moved out", actor=STAFF)
    new = await isp.add_service(package, username="shared-name", password="pw-new-2")
    await isp.deliver()
    mikrotik.online()
    await run_queues(isp.database, isp.schema, isp.slug)
    [secret] = mikrotik.state.find(PPP_SECRET, name="shared-name")
    assert secret["comment"].endswith(f":svc-{new}") and secret["password"] == "pw-new-2"

    # The old service's sync again, late: the new holder of the name stays connected.
    mikrotik.state.login_ppp("shared-name")
    async with isp.session() as session:
        await enqueue(session, isp.router_id, CommandKind.SYNC_SERVICE, {"service_id": old})
        assert (await apply_pending(session, isp.slug, isp.router_id)).applied == 1
    assert mikrotik.state.find(PPP_ACTIVE, name="shared-name")
    assert mikrotik.state.find(PPP_SECRET, name="shared-name")[0]["comment"].endswith(f":svc-{new}")
    # A full sync with both keys in view changes nothing either.
    sent = len(changes_sent(mikrotik))
    await run_queues(isp.database, isp.schema, isp.slug, full_sync=True)
    assert len(changes_sent(mikrotik)) == sent
