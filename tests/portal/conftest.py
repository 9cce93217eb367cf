"""Portal fixtures: an ISP with hotspot packages on sale and vouchers, the router's
parameters as MikroTik posts them, a fake MikroTik hotspot in front of the run's
`kiunga serve`, and the ISP's M-Pesa at the Daraja emulator (the web shell, the browser and
the server are shared, from tests/fixtures)."""

from __future__ import annotations

import itertools

import pytest
from kiunga.tenants.catalog.models import ServiceType, ValidityUnit
from kiunga.tenants.vouchers.batches import BatchSpec, create_batch
from kiunga.tenants.vouchers.models import Voucher
from sqlalchemy import select

from fixtures.mpesa import use_daraja_app

_numbers = itertools.count(1)
CHAP_ID = "\\321"
CHAP_CHALLENGE = "\\005\\242\\017\\377\\000\\123\\044\\311\\167\\001\\002\\003\\004\\005\\006\\007"


def router_fields(login_url: str = "http://10.5.50.1/login", **change) -> dict[str, str]:
    """What a MikroTik login.html (as Kiunga generates it) posts to /portal/login."""
    fields = {
        "mac": "AA:BB:CC:00:11:22",
        "ip": "10.5.50.23",
        "username": "",
        "link-login": f"{login_url}?dst=http%3A%2F%2Fexample.com%2F",
        "link-login-only": login_url,
        "link-orig": "http://example.com/",
        "link-logout": login_url.replace("/login", "/logout"),
        "chap-id": CHAP_ID,
        "chap-challenge": CHAP_CHALLENGE,
        "error": "",
    }
    fields.update(change)
    return fields


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("portal", name="Kibera Wi-Fi")


@pytest.fixture
def isp(tenant):
    """The portal's ISP (the test's `tenant`)."""
    return tenant


@pytest.fixture
def add_package(add_package):
    """A hotspot package on sale on the portal (KES 20 for an hour); returns its id."""

    async def add(price: int = 2_000, on_sale: bool = True, **columns) -> int:
        columns.setdefault("name", f"Saa Moja {next(_numbers)}")
        columns.setdefault("validity_unit", ValidityUnit.HOUR)
        return await add_package(
            price=price,
            sold_on_portal=on_sale,
            service_type=ServiceType.HOTSPOT,
            rate_limit="2M/2M",
            **columns,
        )

    return add


@pytest.fixture
def add_vouchers(unit_of_work):
    """A batch of `count` vouchers of a package; returns their codes."""

    async def add(package_id: int, count: int = 1, schema: str | None = None, **spec):
        async with unit_of_work(schema) as session:
            batch = await create_batch(
                session, BatchSpec(package_id=package_id, count=count, **spec), created_by="test"
            )
            codes = await session.scalars(select(Voucher.code).where(Voucher.batch_id == batch.id))
            return list(codes)

    return add


@pytest.fixture
def fake_router(isp, server):
    """A MikroTik hotspot whose login.html is the one Kiunga generates for this ISP."""
    from kiunga.channels.portal.router_files import login_html, status_html

    from .fake_router import FakeRouter

    host = f"{isp.host}:{server}"
    router = FakeRouter(
        login_html(host, isp.name, scheme="http"), status_html(host, isp.name, scheme="http")
    ).start()
    yield router
    router.stop()


@pytest.fixture
def with_mpesa(daraja, daraja_app, unit_of_work, isp):
    """The ISP's M-Pesa set up against an app of its own at the Daraja emulator."""
    from kiunga.tenants.mpesa.config import rotate_callback_token

    async def setup() -> str:
        app = await daraja_app("Kibera Wi-Fi")
        async with unit_of_work() as session:
            await use_daraja_app(session, daraja, app)
            await rotate_callback_token(session, isp.id)
        return app["shortcode"]

    return setup
