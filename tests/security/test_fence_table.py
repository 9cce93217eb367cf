"""Every operation of the live OpenAPI document, called by an owner's key, a reseller's key
and an agent signed in to the console: who gets past the guards.

The table is the contract. A route missing from it fails the test, so a new route is
thought about before it ships; a fenced caller (reseller key, agent) passes only on the
routes that confine themselves to its reseller.
"""

from __future__ import annotations

import re

import pytest
from kiunga.platform.areas import assemble

from fixtures.web import auth

# The assembled areas' scope table, as the app and the worker install it.
_SCOPES = assemble().scopes
RESELLER_SCOPES = _SCOPES.fenced
TENANT_SCOPES = _SCOPES.tenant

PASS = "passes the guards"  # any answer but 401/403 (a missing id is 404, an empty body 400)
DENIED = "denied"  # 403
ABSENT = "absent"  # 404: the route is not served on an ISP's host

# (owner's key, reseller's key, agent)
ISP_WIDE = (PASS, DENIED, DENIED)
FENCED = (PASS, PASS, DENIED)  # the agent holds only the voucher scopes
AGENT_TOO = (PASS, PASS, PASS)
PLATFORM = (ABSENT, ABSENT, ABSENT)
PROBE = (PASS, PASS, PASS)

EXPECTED: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", "/healthz"): PROBE,
    ("GET", "/readyz"): PROBE,
    ("GET", "/platform/api/tenants"): PLATFORM,
    ("POST", "/platform/api/tenants"): PLATFORM,
    ("POST", "/platform/api/tenants/{slug}/disable"): PLATFORM,
    ("POST", "/platform/api/tenants/{slug}/enable"): PLATFORM,
    ("GET", "/api/v1/api-keys"): ISP_WIDE,
    ("POST", "/api/v1/api-keys"): ISP_WIDE,
    ("DELETE", "/api/v1/api-keys/{key_id}"): ISP_WIDE,
    # The channel settings: the ISP's own provider accounts.
    ("GET", "/api/v1/channel-settings"): ISP_WIDE,
    ("PUT", "/api/v1/channel-settings"): ISP_WIDE,
    ("POST", "/api/v1/channel-settings/rotate-callback-token"): ISP_WIDE,
    ("POST", "/api/v1/channel-settings/test-message"): ISP_WIDE,
    ("GET", "/api/v1/sites"): FENCED,
    ("POST", "/api/v1/sites"): ISP_WIDE,
    ("GET", "/api/v1/sites/{site_id}"): FENCED,
    ("PATCH", "/api/v1/sites/{site_id}"): ISP_WIDE,
    ("DELETE", "/api/v1/sites/{site_id}"): ISP_WIDE,
    ("GET", "/api/v1/packages"): FENCED,
    ("POST", "/api/v1/packages"): ISP_WIDE,
    ("GET", "/api/v1/packages/{package_id}"): FENCED,
    ("PATCH", "/api/v1/packages/{package_id}"): ISP_WIDE,
    ("POST", "/api/v1/packages/{package_id}/archive"): ISP_WIDE,
    ("POST", "/api/v1/packages/{package_id}/unarchive"): ISP_WIDE,
    ("GET", "/api/v1/subscribers"): FENCED,
    ("POST", "/api/v1/subscribers"): FENCED,
    ("GET", "/api/v1/subscribers/{subscriber_id}"): FENCED,
    ("PATCH", "/api/v1/subscribers/{subscriber_id}"): FENCED,
    ("POST", "/api/v1/subscribers/{subscriber_id}/status"): FENCED,
    ("GET", "/api/v1/subscribers/{subscriber_id}/history"): FENCED,
    ("GET", "/api/v1/subscribers/{subscriber_id}/balance"): FENCED,
    ("GET", "/api/v1/subscribers/{subscriber_id}/statement"): FENCED,
    ("GET", "/api/v1/tickets"): FENCED,
    ("POST", "/api/v1/tickets"): FENCED,
    ("GET", "/api/v1/tickets/{ticket_id}"): FENCED,
    ("POST", "/api/v1/tickets/{ticket_id}/messages"): FENCED,
    ("POST", "/api/v1/tickets/{ticket_id}/assign"): FENCED,
    ("POST", "/api/v1/tickets/{ticket_id}/status"): FENCED,
    ("GET", "/api/v1/reports"): ISP_WIDE,
    ("GET", "/api/v1/reports/{name}"): ISP_WIDE,
    ("GET", "/api/v1/services"): FENCED,
    ("POST", "/api/v1/services"): FENCED,
    ("GET", "/api/v1/services/{service_id}"): FENCED,
    ("POST", "/api/v1/services/{service_id}/activate"): FENCED,
    ("POST", "/api/v1/services/{service_id}/suspend"): FENCED,
    ("POST", "/api/v1/services/{service_id}/restore"): FENCED,
    ("POST", "/api/v1/services/{service_id}/terminate"): FENCED,
    ("POST", "/api/v1/services/{service_id}/change-package"): FENCED,
    ("GET", "/api/v1/invoices"): FENCED,
    ("POST", "/api/v1/invoices"): FENCED,
    ("GET", "/api/v1/invoices/{invoice_id}"): FENCED,
    ("POST", "/api/v1/invoices/{invoice_id}/issue"): FENCED,
    ("POST", "/api/v1/invoices/{invoice_id}/void"): FENCED,
    ("GET", "/api/v1/payments"): FENCED,
    ("POST", "/api/v1/payments"): FENCED,
    ("GET", "/api/v1/payments/{payment_id}"): FENCED,
    ("GET", "/api/v1/credit-notes"): FENCED,
    ("POST", "/api/v1/credit-notes"): FENCED,
    ("GET", "/api/v1/adjustments"): FENCED,
    ("POST", "/api/v1/adjustments"): FENCED,
    ("GET", "/api/v1/lifecycle/settings"): ISP_WIDE,
    ("PATCH", "/api/v1/lifecycle/settings"): ISP_WIDE,
    ("GET", "/api/v1/mpesa/requests"): ISP_WIDE,
    ("GET", "/api/v1/mpesa/requests/{request_id}"): ISP_WIDE,
    ("GET", "/api/v1/mpesa/flagged"): ISP_WIDE,
    ("GET", "/api/v1/mpesa/unmatched"): ISP_WIDE,
    ("POST", "/api/v1/mpesa/unmatched/{transaction_id}/assign"): ISP_WIDE,
    ("GET", "/api/v1/mpesa/settings"): ISP_WIDE,
    ("PUT", "/api/v1/mpesa/settings"): ISP_WIDE,
    ("POST", "/api/v1/mpesa/settings/register-c2b"): ISP_WIDE,
    ("POST", "/api/v1/mpesa/settings/rotate-callback-token"): ISP_WIDE,
    ("POST", "/api/v1/mpesa/settings/test-connection"): ISP_WIDE,
    ("POST", "/api/v1/mpesa/stk-push"): ISP_WIDE,
    ("GET", "/api/v1/resellers"): ISP_WIDE,
    ("POST", "/api/v1/resellers"): ISP_WIDE,
    ("GET", "/api/v1/resellers/{reseller_id}"): ISP_WIDE,
    ("PATCH", "/api/v1/resellers/{reseller_id}"): ISP_WIDE,
    ("GET", "/api/v1/routers"): ISP_WIDE,
    ("POST", "/api/v1/routers"): ISP_WIDE,
    ("GET", "/api/v1/routers/{router_id}"): ISP_WIDE,
    ("PATCH", "/api/v1/routers/{router_id}"): ISP_WIDE,
    ("DELETE", "/api/v1/routers/{router_id}"): ISP_WIDE,
    ("POST", "/api/v1/routers/{router_id}/test-connection"): ISP_WIDE,
    ("GET", "/api/v1/routers/{router_id}/commands"): ISP_WIDE,
    ("POST", "/api/v1/routers/{router_id}/sync"): ISP_WIDE,
    ("GET", "/api/v1/voucher-batches"): AGENT_TOO,
    ("POST", "/api/v1/voucher-batches"): ISP_WIDE,
    ("GET", "/api/v1/voucher-batches/{batch_id}"): AGENT_TOO,
    ("GET", "/api/v1/voucher-batches/{batch_id}/vouchers"): AGENT_TOO,
    ("GET", "/api/v1/voucher-batches/{batch_id}/export.csv"): AGENT_TOO,
    ("POST", "/api/v1/voucher-batches/{batch_id}/revoke"): ISP_WIDE,
    ("POST", "/api/v1/voucher-batches/{batch_id}/assign"): ISP_WIDE,
    ("GET", "/api/v1/vouchers"): AGENT_TOO,
    ("GET", "/api/v1/vouchers/{voucher_id}"): AGENT_TOO,
    ("POST", "/api/v1/vouchers/{voucher_id}/revoke"): ISP_WIDE,
    ("GET", "/api/v1/voucher-sales"): AGENT_TOO,
    ("POST", "/api/v1/voucher-sales"): AGENT_TOO,
    ("GET", "/api/v1/agents/summary"): AGENT_TOO,
}

METHODS = ("get", "post", "put", "patch", "delete")
PATH_PARAMETER = re.compile(r"\{([a-z_]+)\}")
# Ids nobody has: a caller that passes the guards learns only that they are missing.
MISSING_ID = "987654321"


def concrete(path: str) -> str:
    return PATH_PARAMETER.sub(
        lambda match: MISSING_ID if match.group(1).endswith("id") else "no-such", path
    )


def verdict(status_code: int) -> str:
    if status_code == 403:
        return DENIED
    if status_code == 401:
        return "unauthenticated"
    return PASS


@pytest.fixture
async def callers(
    make_tenant, make_key, make_legacy_reseller_key, add_reseller, make_agent, client_for, login
):
    tenant = make_tenant("fence")
    reseller_id = add_reseller(tenant, "Mama Mboga")
    owner = client_for(tenant.host)
    owner.headers.update(auth(make_key(tenant.id, scopes=sorted(TENANT_SCOPES))))
    # Every scope, so that the fence alone (not a missing scope) decides.
    reseller = client_for(tenant.host)
    reseller.headers.update(
        auth(make_legacy_reseller_key(tenant.id, reseller_id, scopes=TENANT_SCOPES))
    )
    agent = client_for(tenant.host)
    signed_in = await login(agent, make_agent(tenant.id, reseller_id))
    assert signed_in.status_code == 303, signed_in.text
    await agent.get("/vouchers")  # the CSRF token is new after signing in
    agent.headers["x-csrftoken"] = agent.cookies["kiunga_csrf"]
    return tenant, (owner, reseller, agent)


async def test_every_operation_answers_each_caller_as_the_table_says(callers):
    tenant, clients = callers
    document = (await clients[0].get("/docs/openapi.json")).json()
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    }
    unlisted = sorted(operations - EXPECTED.keys())
    assert not unlisted, f"operations without an entry in the fence table: {unlisted}"
    assert not EXPECTED.keys() - operations, "entries for operations that no longer exist"

    wrong = []
    for method, path in sorted(operations):
        for caller, client, expected in zip(
            ("owner", "reseller", "agent"), clients, EXPECTED[(method, path)], strict=True
        ):
            body = {} if method in ("POST", "PUT", "PATCH") else None
            answer = await client.request(method, concrete(path), json=body)
            got = (
                ABSENT
                if expected == ABSENT and answer.status_code == 404
                else verdict(answer.status_code)
            )
            if got != expected or answer.status_code >= 500:
                wrong.append(f"{caller} {method} {path}: {answer.status_code} (want {expected})")
    assert not wrong, "\n".join(wrong)


def test_the_scopes_a_reseller_key_may_hold_are_those_of_fenced_routes(app):
    from kiunga.platform.auth.fence import Reach, reach_of

    fenced_scopes = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if reach_of(handler.opt) is not Reach.FENCED:
                continue
            for guard in handler.resolve_guards():
                # Litestar wraps each guard; the wrapper keeps the function as `func`.
                function = getattr(guard, "func", guard)
                fenced_scopes |= getattr(function, "required_scopes", frozenset())
    # A fenced route asking for an ISP-wide scope could never be used by a reseller's key;
    # a reseller scope used by no fenced route would reach nothing.
    assert fenced_scopes == set(RESELLER_SCOPES)
