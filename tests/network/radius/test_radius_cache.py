"""The subscriber cache's rules and its bound when notifications are lost: the periodic
full reload still brings every change within `reload_seconds`."""

from __future__ import annotations

import time

from kiunga.integrations.radius.interfaces import (
    Authorization,
    RadiusClient,
    Rejection,
    RejectReason,
)
from kiunga.tenants.network.radius.authorizer import TenantAuthorizer
from kiunga.tenants.network.radius.subscribers import EXPIRY_GRACE, Subscriber, decide
from kiunga.tenants.services.models import Service
from sqlalchemy import text, update

from fixtures.waiting import eventually


def subscriber(**changes) -> Subscriber:
    values = dict(
        service_id=1,
        subscriber_id=1,
        username="amina",
        password=b"pw",
        status="active",
        prepaid=True,
        expires_at=time.time() + 3600,
        rate_limit="5M/10M",
        fup_rate_limit=None,
        cap_bytes=None,
        used_bytes=0,
        static_ip=None,
    )
    values.update(changes)
    return Subscriber(**values)


def test_the_rules():
    now = time.time()
    accepted = decide(subscriber(expires_at=now + 100), now)
    assert isinstance(accepted, Authorization) and accepted.session_timeout == 100
    # A prepaid period just over: still served while the lifecycle may renew it.
    grace = decide(subscriber(expires_at=now - 60), now)
    assert isinstance(grace, Authorization)
    assert grace.session_timeout == EXPIRY_GRACE - 60
    over = decide(subscriber(expires_at=now - EXPIRY_GRACE), now)
    assert isinstance(over, Rejection) and over.reason is RejectReason.EXPIRED
    assert over.password == b"pw"
    postpaid = decide(subscriber(prepaid=False, expires_at=now - 10 * EXPIRY_GRACE), now)
    assert isinstance(postpaid, Authorization) and postpaid.session_timeout is None
    pending = decide(subscriber(status="pending"), now)
    assert pending.reason is RejectReason.NOT_ALLOWED
    assert decide(subscriber(password=None), now).reason is RejectReason.NOT_ALLOWED
    used_up = decide(subscriber(cap_bytes=100, used_bytes=100), now)
    assert used_up.reason is RejectReason.DATA_USED_UP
    fair = decide(subscriber(cap_bytes=100, used_bytes=150, fup_rate_limit="1M/1M"), now)
    assert fair.rate_limit == "1M/1M" and fair.total_limit_bytes is None
    left = decide(subscriber(cap_bytes=100, used_bytes=30), now)
    assert left.total_limit_bytes == 70


async def test_without_notifications_the_full_reload_bounds_staleness(
    isp, add_service, unit_of_work, database_url
):
    service_id = await add_service(isp, "no-notify", "pw-1")
    authorizer = TenantAuthorizer(database_url, reload_seconds=1.0)
    await authorizer.start()
    nas = RadiusClient(secret=b"s", tenant_key=isp.schema, router_id=str(isp.router_id))
    try:
        assert isinstance(authorizer.authorize(nas, "no-notify"), Authorization)
        loads = authorizer.full_loads
        async with unit_of_work(isp.schema) as session:
            # Triggers off for this transaction: no NOTIFY, as if it were lost.
            await session.execute(text("SET LOCAL session_replication_role = replica"))
            await session.execute(
                update(Service).where(Service.id == service_id).values(status="suspended")
            )
        decision = await eventually(
            lambda: _rejected(authorizer.authorize(nas, "no-notify")), within=60
        )
        assert decision.reason is RejectReason.SUSPENDED
        # Seen through a full reload, the only way left without the NOTIFY.
        assert authorizer.full_loads > loads
    finally:
        await authorizer.close()


def _rejected(decision):
    return decision if isinstance(decision, Rejection) else None
