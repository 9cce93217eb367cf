"""The console's services page: a subscriber's (or every) service with the actions the
signed-in staff member's role allows. Support and technicians connect subscribers (add,
activate, suspend, restore, terminate at the catalog price); changing a package, which
writes a prorated credit note and invoice, is for roles holding billing:write (owner,
admin, finance — finance only with services:write, which it does not hold by default)."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id, OptionalId, Text
from kiunga.tenants.billing.api.common import actor_of
from kiunga.tenants.billing.errors import BillingError, NotFound
from kiunga.tenants.billing.scopes import BILLING_WRITE
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.network.radius.dynauth import last_attempts
from kiunga.tenants.services import lifecycle
from kiunga.tenants.services.errors import ServiceError, ServiceNotFound
from kiunga.tenants.services.models import ServiceStatus
from kiunga.tenants.services.scopes import SERVICES_READ, SERVICES_WRITE
from kiunga.tenants.services.service import NewService, ServiceFilter, create_service, list_services
from kiunga.tenants.subscribers.models import Subscriber
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_409_CONFLICT
from sqlalchemy import select


@dataclass
class AddServiceForm:
    subscriber_id: str = ""
    package_id: str = ""
    username: str = ""
    password: str = ""
    mac_address: str = ""
    static_ip: str = ""


@dataclass
class ActionForm:
    reason: str = ""
    package_id: str = ""
    subscriber_id: str = ""


def _number(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


async def _render(request, session, subscriber_id, *, form=None, errors=None, status_code=200):
    principal = request.user
    scopes = principal.scopes if isinstance(principal, StaffPrincipal) else frozenset()
    services, total = await list_services(
        session, ServiceFilter(subscriber_id=subscriber_id), limit=200
    )
    packages = list(
        await session.scalars(
            select(Package).where(Package.archived_at.is_(None)).order_by(Package.name)
        )
    )
    subscriber = await session.get(Subscriber, subscriber_id) if subscriber_id else None
    router_actions = await last_attempts(session, [service.id for service in services])
    template = (
        "services/_section.html" if request.headers.get("hx-request") else "services/index.html"
    )
    return page(
        request,
        template,
        status_code=status_code,
        services=services,
        total=total,
        packages=packages,
        package_names={p.id: p.name for p in packages},
        subscriber=subscriber,
        subscriber_id=subscriber_id,
        form=form or AddServiceForm(subscriber_id=str(subscriber_id or "")),
        errors=errors or {},
        can_write=SERVICES_WRITE in scopes,
        can_change_package=SERVICES_WRITE in scopes and BILLING_WRITE in scopes,
        statuses=ServiceStatus,
        router_actions=router_actions,
    )


# What a form shows beside its inputs rather than on an error page.
ERRORS = (ServiceError, ServiceNotFound, BillingError, NotFound)


def _failure_status(exc: Exception) -> int:
    return HTTP_409_CONFLICT if getattr(exc, "status_code", 400) == 409 else HTTP_400_BAD_REQUEST


class ServicesPageController(Controller):
    path = "/services"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(SERVICES_READ)]

    @get()
    async def services_page(
        self,
        request: Request,
        tenant_session: TenantSession,
        subscriber_id: FromQuery[OptionalId] = None,
    ) -> Response:
        return await _render(request, tenant_session, subscriber_id)

    @post(guards=[requires_scopes(SERVICES_WRITE)])
    async def add_service(
        self, request: Request, tenant_session: TenantSession, data: URLEncodedBody[AddServiceForm]
    ) -> Response:
        subscriber_id = _number(data.subscriber_id)
        new = NewService(
            subscriber_id=subscriber_id or 0,
            package_id=_number(data.package_id) or 0,
            username=data.username or None,
            password=data.password or None,
            mac_address=data.mac_address or None,
            static_ip=data.static_ip or None,
        )
        try:
            async with tenant_session.begin_nested():
                await create_service(tenant_session, new, actor=actor_of(request.user))
        except ERRORS as exc:
            data.password = ""  # never echoed back into the page
            return await _render(
                request,
                tenant_session,
                subscriber_id,
                form=data,
                errors=exc.form_errors(),
                status_code=_failure_status(exc),
            )
        return await _render(request, tenant_session, subscriber_id, status_code=201)

    @post("/{service_id:int}/{action:str}", guards=[requires_scopes(SERVICES_WRITE)])
    async def act(
        self,
        request: Request,
        tenant_session: TenantSession,
        service_id: FromPath[Id],
        action: FromPath[Text],
        data: URLEncodedBody[ActionForm],
    ) -> Response:
        actor = actor_of(request.user)
        reason = data.reason.strip()
        actions = {
            "activate": lambda: lifecycle.activate_service(tenant_session, service_id, actor=actor),
            "suspend": lambda: lifecycle.suspend_service(
                tenant_session, service_id, reason=reason or "suspended by staff", actor=actor
            ),
            "restore": lambda: lifecycle.restore_service(tenant_session, service_id, actor=actor),
            "terminate": lambda: lifecycle.terminate_service(
                tenant_session, service_id, reason=reason or "terminated by staff", actor=actor
            ),
            "change-package": lambda: lifecycle.change_package(
                tenant_session, service_id, _number(data.package_id) or 0, actor=actor
            ),
        }
        subscriber_id = _number(data.subscriber_id)
        if action not in actions:
            return await _render(
                request,
                tenant_session,
                subscriber_id,
                errors={"action": f"no action {action!r}"},
                status_code=404,
            )
        if action == "change-package" and BILLING_WRITE not in request.user.scopes:
            return await _render(
                request,
                tenant_session,
                subscriber_id,
                errors={"package_id": "changing a package needs billing rights"},
                status_code=403,
            )
        try:
            async with tenant_session.begin_nested():
                await actions[action]()
        except ERRORS as exc:
            return await _render(
                request,
                tenant_session,
                subscriber_id,
                errors=exc.form_errors(),
                status_code=_failure_status(exc),
            )
        return await _render(request, tenant_session, subscriber_id)
