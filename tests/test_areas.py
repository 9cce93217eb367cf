"""The application is assembled from the areas' manifests, and only from them: importing an
area registers nothing; the assembled app and worker have every hook and job whatever the
import order; a toy area passed to the assembly appears everywhere without any other edit;
and the scope table is the one before the manifests (tests/data/scopes.json)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import httpx
from kiunga.platform.areas import AREA_GROUP, Area, assemble, installed, load_areas
from kiunga.platform.auth.scopes import Scope, scope_table
from kiunga.platform.hooks import Hook, hooks_for, installed_hooks
from kiunga.platform.jobs.registry import periodic
from kiunga.platform.jobs.worker import build_worker_settings
from kiunga.platform.models import StaffRole
from kiunga.platform.web.app import create_app
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.billing.hooks import PAYMENT, PAYMENT_FACTS
from litestar import Controller, get

DATA = Path(__file__).resolve().parent / "data"


def run_alone(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_an_area_registers_nothing():
    # A clean interpreter: the modules that used to register hooks and jobs on import.
    out = run_alone(
        "import kiunga.tenants.services.api, kiunga.tenants.mpesa.intake, "
        "kiunga.tenants.mpesa.jobs, kiunga.tenants.lifecycle.jobs, kiunga.tenants.network.jobs, "
        "kiunga.channels.portal.purchases\n"
        "from kiunga.platform.hooks import installed_hooks\n"
        "from kiunga.platform.auth import scopes\n"
        "print(installed_hooks() is None and scopes._installed is None)"
    )
    assert out == "True"


def test_a_process_that_assembled_nothing_refuses_to_run_hooks():
    out = run_alone(
        "from kiunga.platform.hooks import HooksNotInstalled, hooks_for\n"
        "try:\n    hooks_for('billing.payment')\nexcept HooksNotInstalled:\n    print('refused')"
    )
    assert out == "refused"


def expected_hooks(areas) -> dict[str, list]:
    table: dict[str, list] = {}
    for area in areas:
        for hook in area.hooks:
            table.setdefault(hook.kind, []).append(hook.fn)
    return table


def test_the_assembled_app_and_worker_have_every_hook_and_job_whatever_the_import_order():
    # Forwards and backwards: the listed order decides, not which module was imported first.
    areas = load_areas()
    assert {PAYMENT, PAYMENT_FACTS} <= set(expected_hooks(areas))
    # Each area's manifest module, as pyproject.toml lists it.
    modules = {
        entry.name.partition("-")[2]: entry.value.partition(":")[0]
        for entry in entry_points(group=AREA_GROUP)
    }
    for order in (areas, tuple(reversed(areas))):
        out = run_alone(
            "from kiunga.platform.areas import load_areas\n"
            "import importlib\n"
            f"for module in {[modules[a.name] for a in order]!r}:\n"
            "    importlib.import_module(module)\n"
            "from kiunga.platform.jobs.worker import build_worker_settings\n"
            "from kiunga.platform.hooks import hooks_for\n"
            "s = build_worker_settings('postgresql+psycopg://u:p@127.0.0.1:1/x', "
            "'redis://127.0.0.1:1/0')\n"
            "import json\n"
            "print(json.dumps(sorted(f.name for f in s['functions'])))\n"
            "named = lambda kind: [f'{h.__module__}.{h.__qualname__}' for h in hooks_for(kind)]\n"
            "print(json.dumps(named('billing.payment')))\n"
            "print(json.dumps(named('billing.payment_facts')))"
        )
        functions, payment, facts = map(json.loads, out.splitlines())
        registry = assemble(areas).job_registry()
        assert set(functions) == {
            "kiunga.ping",
            *(f"task:{name}" for name in registry.tasks),
            *(f"periodic:{name}" for name in registry.periodics),
            *(f"handler:{h.name}" for hs in registry.handlers.values() for h in hs),
        }
        names = {f"{h.__module__}.{h.__qualname__}" for h in expected_hooks(areas)[PAYMENT]}
        assert payment == [
            "kiunga.tenants.lifecycle.restore.restore_after_payment",
            "kiunga.channels.portal.purchase_hooks.issue_paid_purchase",
        ]
        assert set(payment) == names
        assert facts == ["kiunga.tenants.mpesa.events.service_expiry"]


def test_the_list_is_in_pyproject_and_ordered_by_position():
    text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    listed = text.split('[project.entry-points."kiunga.areas"]')[1].split("\n\n")[0]
    lines = [line.split(" = ")[0] for line in listed.strip().splitlines()]
    names = [area.name for area in load_areas()]
    assert [line.partition("-")[2] for line in lines] == names
    positions = [int(line.partition("-")[0]) for line in lines]
    assert positions == sorted(set(positions))
    # The console's navigation as it has always been.
    assert [item.label for item in assemble().nav] == [
        "Sites", "Packages", "Subscribers", "Tickets", "Reports", "Services", "Invoices",
        "Payments", "M-Pesa", "Resellers", "Settings", "Routers", "Vouchers", "Portal", "Messages",
        "Channels", "Phone",
    ]  # fmt: skip


def test_the_scope_table_is_the_one_before_the_manifests():
    table = assemble().scopes
    assembled = {
        "tenant": sorted(table.tenant),
        "platform": sorted(table.platform),
        "reseller": sorted(table.fenced),
        "isp_wide": sorted(table.isp_wide),
        "roles": {role.value: sorted(scopes) for role, scopes in table.roles.items()},
    }
    assert assembled == json.loads((DATA / "scopes.json").read_text())


# ------------------------------------------------------------------------ a toy area

TOY_SCOPE = "toys:read"
toy_payments: list[int] = []


class ToyController(Controller):
    path = "/api/v1/toys"

    @get("/", include_in_schema=False)
    async def list_toys(self) -> dict:
        return {"toys": ["kite"]}


async def count_on_payment(session, payment) -> None:
    toy_payments.append(payment.id)


@periodic("toys.tidy_up", cron="0 3 * * *")
async def tidy_up(ctx, tenant_slug: str, scheduled_for) -> dict:
    return {}


TOY = Area(
    name="toys",
    api_controllers=(ToyController,),
    nav=(NavItem("Toys", "/toys"),),
    scopes=(Scope(TOY_SCOPE, roles={StaffRole.OWNER}, fenced=True),),
    jobs=(tidy_up,),
    hooks=(Hook(PAYMENT, count_on_payment),),
)


async def test_a_toy_area_appears_in_the_app_the_worker_and_the_tables(
    settings, database_url, redis_url, make_tenant
):
    areas = (*load_areas(), TOY)
    before = installed_hooks()
    with installed(assemble()):
        app = create_app(settings, database_url, redis_url, areas=areas)
        worker = build_worker_settings(database_url, redis_url, areas=areas, relay=False)
        # The route answers, the entry is in the navigation, the scope in the table…
        tenant = make_tenant("toys")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{tenant.host}") as c:
            response = await c.get("/api/v1/toys")
        assert response.status_code == 200 and response.json() == {"toys": ["kite"]}
        assert NavItem("Toys", "/toys") in app.state.console_nav
        assert TOY_SCOPE in scope_table().tenant and TOY_SCOPE in scope_table().fenced
        assert TOY_SCOPE in scope_table().roles[StaffRole.OWNER]
        # …the job among the worker's functions and crons, the hook in the hook table,
        # after the real ones.
        assert "periodic:toys.tidy_up" in {f.name for f in worker["functions"]}
        assert "fan-out:toys.tidy_up" in {c.name for c in worker["cron_jobs"]}
        assert hooks_for(PAYMENT)[-1] is count_on_payment
        await app.state.services.close()
    # Taken away again: the rest of the run has the listed areas only.
    assert installed_hooks() is before
    assert count_on_payment not in hooks_for(PAYMENT)
    assert TOY_SCOPE not in scope_table().tenant
