"""set_status as other areas call it (a service suspended, restored or terminated)."""

import pytest
from kiunga.tenants.actors import Actor
from kiunga.tenants.subscribers.models import SubscriberStatus
from kiunga.tenants.subscribers.service import (
    SubscriberFields,
    SubscriberNotFound,
    create_subscriber,
    set_status,
    status_history,
)
from kiunga.tenants.subscribers.status import InvalidTransition


async def test_set_status_records_the_actor_and_repeats_are_no_ops(database, make_tenant):
    tenant = make_tenant()
    lifecycle = Actor.system("lifecycle")
    async with database.tenant_session(tenant.schema) as session:
        subscriber = await create_subscriber(
            session, SubscriberFields(name="Kerubo"), actor=lifecycle, status="active"
        )
        await set_status(session, subscriber.id, SubscriberStatus.SUSPENDED,
                         reason="unpaid", actor=lifecycle)  # fmt: skip
        await set_status(session, subscriber.id, "suspended", reason="again", actor=lifecycle)
        await set_status(session, subscriber.id, "active", reason="paid", actor=lifecycle)
        with pytest.raises(InvalidTransition):
            await set_status(session, subscriber.id, "lead", reason="", actor=lifecycle)
        with pytest.raises(SubscriberNotFound):
            await set_status(session, 999_999, "active", reason="", actor=lifecycle)
        history = await status_history(session, subscriber.id)
        await session.commit()
    assert [(h.to_status.value, h.reason, h.changed_by) for h in history] == [
        ("active", "created", "lifecycle"),
        ("suspended", "unpaid", "lifecycle"),
        ("active", "paid", "lifecycle"),
    ]


async def test_staff_actor_is_recorded_with_the_staff_id(database, make_tenant):
    tenant = make_tenant()
    async with database.tenant_session(tenant.schema) as session:
        subscriber = await create_subscriber(
            session, SubscriberFields(name="Mutheu"), actor=Actor.staff(42, "a@isp.test")
        )
        await set_status(session, subscriber.id, "terminated", reason="moved away",
                         actor=Actor.staff(42, "a@isp.test"))  # fmt: skip
        history = await status_history(session, subscriber.id)
        with pytest.raises(InvalidTransition):
            await set_status(session, subscriber.id, "active", reason="", actor=Actor.system())
        await session.commit()
    assert history[-1].changed_by_staff_id == 42 and history[-1].changed_by == "a@isp.test"


async def test_api_docs_list_the_catalog_and_subscriber_routes(client_for, base_host):
    schema = (await client_for(base_host).get("/docs/openapi.json")).json()
    assert {
        "/api/v1/packages",
        "/api/v1/packages/{package_id}/archive",
        "/api/v1/subscribers",
        "/api/v1/subscribers/{subscriber_id}/status",
        "/api/v1/subscribers/{subscriber_id}/history",
    } <= set(schema["paths"])
