"""Portal fixtures: an ISP with hotspot packages on sale and vouchers, the web shell's
fixtures (app, client_for), and the router's parameters as MikroTik posts them."""

from __future__ import annotations

import importlib.util
import itertools
import os
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from kiunga.platform.db.engine import Database
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.vouchers.batches import BatchSpec, create_batch
from kiunga.tenants.vouchers.models import Voucher
from sqlalchemy import select

_path = Path(__file__).resolve().parents[1] / "web" / "conftest.py"
_spec = importlib.util.spec_from_file_location("kiunga_tests_web_fixtures_portal", _path)
_web = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_web)

app = _web.app
client_for = _web.client_for
make_staff = _web.make_staff
csrf_token_in = _web.csrf_token_in
login = _web.login

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
async def database(database_url):
    database = Database(database_url, pool_size=4)
    yield database
    await database.dispose()


@pytest.fixture
def isp(make_tenant):
    return make_tenant("portal", name="Kibera Wi-Fi")


@pytest.fixture
def unit_of_work(database, isp):
    @asynccontextmanager
    async def open_(schema: str | None = None):
        async with database.tenant_session(schema or isp.schema) as session:
            async with session.begin():
                yield session

    return open_


@pytest.fixture
def add_package(unit_of_work):
    """A hotspot package on sale on the portal (KES 20 for an hour); returns its id."""

    async def add(price: int = 2_000, on_sale: bool = True, schema: str | None = None, **extra):
        async with unit_of_work(schema) as session:
            package = Package(
                name=extra.pop("name", None) or f"Saa Moja {next(_numbers)}",
                price=price,
                currency="KES",
                billing_type=BillingType.PREPAID,
                validity_count=extra.pop("validity_count", 1),
                validity_unit=extra.pop("validity_unit", ValidityUnit.HOUR),
                service_type=ServiceType.HOTSPOT,
                rate_limit="2M/2M",
                sold_on_portal=on_sale,
                **extra,
            )
            session.add(package)
            await session.flush()
            return package.id

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


# --- the browser: Debian's Chromium through Playwright, `kiunga serve` on a free port -----

_browser_path = Path(__file__).resolve().parents[1] / "browser" / "conftest.py"
_browser_spec = importlib.util.spec_from_file_location(
    "kiunga_tests_browser_fixtures_portal", _browser_path
)
_browser = importlib.util.module_from_spec(_browser_spec)
_browser_spec.loader.exec_module(_browser)

server = _browser.server
chromium = _browser.chromium
browser = _browser.browser

SCREENSHOTS = Path(os.environ.get("KIUNGA_SCREENSHOTS") or Path(__file__).parent / ".screenshots")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"portal_report_{report.when}", report)
    return report


async def _page(browser, request, **options):
    """A phone-sized page; its screenshot is kept when the test fails."""
    context = await browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, **options
    )
    page = await context.new_page()
    return context, page


async def _keep_screenshot(request, page) -> None:
    report = getattr(request.node, "portal_report_call", None)
    if report is not None and report.failed:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)


@pytest.fixture
async def phone(browser, request):
    context, page = await _page(browser, request)
    yield page
    await _keep_screenshot(request, page)
    await context.close()


@pytest.fixture
async def phone_without_js(browser, request):
    context, page = await _page(browser, request, java_script_enabled=False)
    yield page
    await _keep_screenshot(request, page)
    await context.close()


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


@pytest.fixture(scope="module")
def daraja():
    from kiunga.integrations.mpesa.emulator import EmulatorServer

    server = EmulatorServer(callback_delay=0.5).start()
    yield server
    server.stop()


@pytest.fixture
def with_mpesa(daraja, unit_of_work, isp):
    """The ISP's M-Pesa set up against an app of its own at the Daraja emulator."""
    import uuid

    import httpx
    from kiunga.tenants.mpesa.config import SettingsChange, rotate_callback_token, update_settings

    async def setup() -> str:
        shortcode = str(600_000 + uuid.uuid4().int % 99_999)
        app = {
            "consumer_key": f"key-{uuid.uuid4().hex[:12]}",
            "consumer_secret": f"secret-{uuid.uuid4().hex}",
            "shortcode": shortcode,
            "passkey": uuid.uuid4().hex * 2,
            "shortcode_type": "paybill",
            "initiator_name": "apiop",
            "security_credential": "cred",
            "organisation_name": "Kibera Wi-Fi",
        }
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(f"{daraja.url}/emulator/apps", json=app)
        assert answer.status_code == 201, answer.text
        async with unit_of_work() as session:
            await update_settings(
                session,
                SettingsChange(
                    base_url=daraja.url,
                    shortcode=shortcode,
                    consumer_key=app["consumer_key"],
                    consumer_secret=app["consumer_secret"],
                    passkey=app["passkey"],
                ),
            )
            await rotate_callback_token(session, isp.id)
        return shortcode

    return setup
