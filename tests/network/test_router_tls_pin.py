"""api-ssl with the router's certificate pinned on first use, against the emulator serving
TLS with a self-signed certificate made at test time: the first connection pins it, the
same certificate passes, another one is refused before the login is sent (the router page
says so, and an alert event is recorded), and only staff trusting the new certificate
pins it instead."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote_plus

import pytest
from kiunga.integrations.routeros.emulator import RouterEmulator
from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.platform.models import StaffRole
from sqlalchemy import select

from .conftest import api_router
from fixtures.provisioning import ROUTER_PASSWORD


@pytest.fixture
def mikrotik_tls() -> Iterator[RouterEmulator]:
    with RouterEmulator(
        username="kiunga", password=ROUTER_PASSWORD, identity="edge-tls", tls=True
    ) as router:
        yield router


async def test_the_certificate_is_pinned_on_first_use_and_a_new_one_needs_staff(
    api, signed_in, csrf_token_in, mikrotik_tls, database, tenant
):
    made = await api.post(
        "/api/v1/routers", json=api_router(mikrotik_tls.port, use_tls=True, name="Edge TLS")
    )
    router_id = made.json()["id"]
    assert made.json()["tls_fingerprint"] is None
    test_path = f"/api/v1/routers/{router_id}/test-connection"
    first = mikrotik_tls.certificate_fingerprint

    # First use pins what the router presented; the same certificate passes again.
    pinned = (await api.post(test_path)).json()
    assert pinned["ok"] is True, pinned["message"]
    assert pinned["router"]["tls_fingerprint"] == first
    again = (await api.post(test_path)).json()
    assert again["ok"] is True and again["router"]["tls_fingerprint"] == first
    assert mikrotik_tls.state.login_attempts == ["kiunga", "kiunga"]

    admin = await signed_in(StaffRole.ADMIN)
    page = await admin.get(f"/routers/{router_id}")
    assert first in page.text and 'id="certificate-refused"' not in page.text

    # Another certificate (a machine in the path, or a reset router): refused before login.
    mikrotik_tls.replace_certificate()
    second = mikrotik_tls.certificate_fingerprint
    assert second != first
    refused = (await api.post(test_path)).json()
    assert refused["ok"] is False and refused["message"].startswith("Refused"), refused
    assert second in refused["message"]
    assert refused["router"]["tls_fingerprint"] == first
    assert refused["router"]["tls_refused_fingerprint"] == second
    assert refused["router"]["online"] is False
    assert mikrotik_tls.state.login_attempts == ["kiunga", "kiunga"]  # nothing sent
    still = (await api.post(test_path)).json()  # as the poll would, minutes later
    assert still["ok"] is False and mikrotik_tls.state.login_attempts == ["kiunga", "kiunga"]
    async with database.tenant_session(tenant.schema) as session:
        alerts = list(
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.topic == "router.certificate_refused")
            )
        )
    assert [alert.payload for alert in alerts] == [
        {"router_id": router_id, "pinned": first, "presented": second}
    ]

    page = await admin.get(f"/routers/{router_id}")
    assert 'id="certificate-refused"' in page.text and second in page.text
    assert "certificate refused" in (await admin.get("/routers")).text
    token = csrf_token_in(page.text)

    # Only the certificate staff were shown can be trusted.
    wrong = await admin.post(
        f"/routers/{router_id}/trust-certificate",
        data={"_csrf_token": token, "fingerprint": first},
    )
    assert wrong.status_code == 303 and "not the certificate" in unquote_plus(
        wrong.headers["location"]
    )
    assert (await api.get(f"/api/v1/routers/{router_id}")).json()["tls_fingerprint"] == first

    # Support staff look but cannot trust a certificate.
    support = await signed_in(StaffRole.SUPPORT)
    denied = await support.post(
        f"/routers/{router_id}/trust-certificate",
        data={"_csrf_token": csrf_token_in((await support.get(f"/routers/{router_id}")).text),
              "fingerprint": second},
    )  # fmt: skip
    assert denied.status_code == 403

    trusted = await admin.post(
        f"/routers/{router_id}/trust-certificate",
        data={"_csrf_token": token, "fingerprint": second},
    )
    assert trusted.status_code == 303, trusted.text
    after = (await api.post(test_path)).json()
    assert after["ok"] is True, after["message"]
    assert after["router"]["tls_fingerprint"] == second
    assert after["router"]["tls_refused_fingerprint"] is None
    assert mikrotik_tls.state.login_attempts == ["kiunga", "kiunga", "kiunga"]
    page = await admin.get(f"/routers/{router_id}")
    assert second in page.text and 'id="certificate-refused"' not in page.text


async def test_the_api_cannot_set_the_pin(api, mikrotik_tls):
    made = await api.post(
        "/api/v1/routers", json=api_router(mikrotik_tls.port, use_tls=True, name="Edge TLS")
    )
    changed = await api.patch(
        f"/api/v1/routers/{made.json()['id']}", json={"tls_fingerprint": "00" * 32}
    )
    assert changed.status_code == 400
    assert (await api.get(f"/api/v1/routers/{made.json()['id']}")).json()["tls_fingerprint"] is None
