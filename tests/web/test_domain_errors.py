"""A business refusal (DomainError) is answered by one handler: the API's JSON error, the
console's error page, or, where a form catches it, the form's errors; every area's errors
keep the status and body their API gave before the handler existed."""

from __future__ import annotations

import pytest
from kiunga.platform.auth.api_keys import ApiKeyError, KeyNotAllowed
from kiunga.platform.errors import DomainError, Kind, NotFoundError
from kiunga.platform.tenant_admin import TenantError, TenantExists, TenantNotFound
from kiunga.platform.web.errors import as_http_exception, error_body
from kiunga.platform.web.middleware import ANY_HOST
from kiunga.tenants.billing.errors import BillingError, NotFound, ReferenceConflict
from kiunga.tenants.catalog.service import DuplicatePackageName, PackageError, PackageNotFound
from kiunga.tenants.mpesa.errors import MpesaConflict, MpesaError, MpesaNotFound, MpesaUnavailable
from kiunga.tenants.network.service import RouterNotFound
from kiunga.tenants.network.validation import RouterConflict, RouterError
from kiunga.tenants.reports.period import PeriodError
from kiunga.tenants.resellers.service import ResellerError, ResellerNotFound
from kiunga.tenants.services.errors import ServiceConflict, ServiceError, ServiceNotFound
from kiunga.tenants.sites.service import DuplicateSiteName, SiteError, SiteNotFound
from kiunga.tenants.subscribers.models import SubscriberStatus
from kiunga.tenants.subscribers.service import DuplicateAccountNumber, SubscriberNotFound
from kiunga.tenants.subscribers.status import InvalidTransition
from kiunga.tenants.subscribers.validation import SubscriberError
from kiunga.tenants.tickets.service import TicketError, TicketNotFound, TransitionNotAllowed
from kiunga.tenants.vouchers.errors import VoucherError, VoucherNotFound
from litestar import Controller, get
from litestar.params import FromPath

MESSAGE = "name <b>is</b> taken"
STATUSES = {"invalid": 400, "forbidden": 403, "not_found": 404, "conflict": 409, "unavailable": 502}


class RefusalProbe(Controller):
    """Raises the refusal it is asked for, on an API path and on a console path."""

    opt = {ANY_HOST: True}

    @get("/api/v1/refusal-probe/{kind:str}")
    async def api(self, kind: FromPath[str]) -> None:
        raise DomainError("name", MESSAGE, kind=Kind(kind))

    @get("/api/v1/refusal-probe-missing")
    async def api_missing(self) -> None:
        raise NotFoundError("no such thing")

    @get("/refusal-probe/{kind:str}")
    async def console(self, kind: FromPath[str]) -> None:
        raise DomainError("name", MESSAGE, kind=Kind(kind))


@pytest.fixture
def probe(app, client_for, base_host):
    app.register(RefusalProbe)
    return client_for(base_host)


@pytest.mark.parametrize("kind", sorted(STATUSES))
async def test_api_answers_each_kind_with_its_status_and_the_one_error_body(probe, kind):
    response = await probe.get(f"/api/v1/refusal-probe/{kind}")
    assert response.status_code == STATUSES[kind]
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "status_code": STATUSES[kind],
        "detail": MESSAGE,
        "errors": [{"field": "name", "message": MESSAGE}],
    }


async def test_a_refusal_without_a_field_lists_no_field(probe):
    response = await probe.get("/api/v1/refusal-probe-missing")
    assert response.status_code == 404
    assert response.json() == {"status_code": 404, "detail": "no such thing", "errors": []}


@pytest.mark.parametrize("kind", sorted(STATUSES))
async def test_console_answers_each_kind_with_the_error_page(probe, kind):
    response = await probe.get(f"/refusal-probe/{kind}", headers={"accept": "text/html"})
    assert response.status_code == STATUSES[kind]
    assert response.headers["content-type"].startswith("text/html")
    assert "name &lt;b&gt;is&lt;/b&gt; taken" in response.text  # escaped, never markup
    assert "<b>is</b>" not in response.text


async def test_console_path_asked_without_html_gets_the_json_error(probe):
    response = await probe.get("/refusal-probe/conflict", headers={"accept": "*/*"})
    assert response.status_code == 409
    assert response.json()["errors"] == [{"field": "name", "message": MESSAGE}]


def test_a_form_shows_the_refusal_beside_its_input():
    error = BillingError("amount", "amount must be more than zero")
    assert error.form_errors() == {"amount": "amount must be more than zero"}
    assert error.form_errors("payment.") == {"payment.amount": "amount must be more than zero"}
    assert ServiceNotFound(7).form_errors() == {"service_id": "no service with id 7"}


# What each area's API answered before the one handler: (error, status, field named).
AREA_ANSWERS = [
    (PackageError("price", MESSAGE), 400, "price"),
    (DuplicatePackageName("name", MESSAGE), 409, "name"),
    (PackageNotFound(MESSAGE), 404, None),
    (ServiceError("username", MESSAGE), 400, "username"),
    (ServiceConflict("username", MESSAGE), 409, "username"),
    (ServiceNotFound(7), 404, None),
    (BillingError("amount", MESSAGE), 400, "amount"),
    (ReferenceConflict("reference", MESSAGE), 409, "reference"),
    (NotFound("subscriber_id", MESSAGE), 404, "subscriber_id"),
    (MpesaError("phone", MESSAGE), 400, "phone"),
    (MpesaNotFound("transaction_id", MESSAGE), 404, "transaction_id"),
    (MpesaConflict("transaction_id", MESSAGE), 409, "transaction_id"),
    (MpesaUnavailable("mpesa", MESSAGE), 502, "mpesa"),
    (VoucherError("count", MESSAGE), 400, "count"),
    (VoucherError("voucher_id", MESSAGE, status_code=409), 409, "voucher_id"),
    (VoucherError("package_id", MESSAGE, status_code=404), 404, "package_id"),
    (VoucherNotFound(MESSAGE), 404, "id"),
    (VoucherNotFound(MESSAGE, field="code"), 404, "code"),
    (RouterError("host", MESSAGE), 400, "host"),
    (RouterConflict("name", MESSAGE), 409, "name"),
    (RouterNotFound(MESSAGE), 404, None),
    (SubscriberError("name", MESSAGE), 400, "name"),
    (DuplicateAccountNumber("account_number", MESSAGE), 409, "account_number"),
    (InvalidTransition(SubscriberStatus.LEAD, SubscriberStatus.LEAD), 409, "status"),
    (SubscriberNotFound(MESSAGE), 404, None),
    (SiteError("name", MESSAGE), 400, "name"),
    (DuplicateSiteName("name", MESSAGE), 409, "name"),
    (SiteNotFound(MESSAGE), 404, None),
    (TicketError("subject", MESSAGE), 400, "subject"),
    (TransitionNotAllowed("status", MESSAGE), 409, "status"),
    (TicketNotFound(MESSAGE), 404, None),
    (ResellerError("name", MESSAGE), 400, "name"),
    (ResellerNotFound(MESSAGE), 404, None),
    (PeriodError("from", MESSAGE), 400, "from"),
    (TenantError("slug", MESSAGE), 400, "slug"),
    (TenantExists("slug", MESSAGE), 409, "slug"),
    (TenantNotFound(MESSAGE), 404, None),
    (ApiKeyError("scopes", MESSAGE), 400, "scopes"),
    (KeyNotAllowed("scopes", MESSAGE), 403, None),
]


@pytest.mark.parametrize(("error", "status", "field"), AREA_ANSWERS, ids=lambda v: type(v).__name__)
def test_every_area_keeps_its_answer(error, status, field):
    body = error_body(as_http_exception(error))
    expected_errors = [{"field": field, "message": error.message}] if field else []
    assert body == {"status_code": status, "detail": error.message, "errors": expected_errors}


def test_area_errors_keep_the_builtin_bases_callers_catch():
    assert isinstance(PackageError("name", MESSAGE), ValueError)
    assert isinstance(PackageNotFound(MESSAGE), LookupError)
    assert isinstance(ServiceNotFound(1), LookupError)
    assert isinstance(VoucherNotFound(MESSAGE), LookupError)
    assert isinstance(NotFound("id", MESSAGE), LookupError)
    assert str(PackageNotFound(MESSAGE)) == MESSAGE
