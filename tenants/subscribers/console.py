"""The console's subscriber pages: a searchable list, a sign-up form, and each subscriber
with their phones, status history, a status-change form and the panels other areas add
(panels.py).

Owners, admins and support change subscribers; technicians and finance only look.
"""

from __future__ import annotations

from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id
from kiunga.platform.web.pagination import requested_page
from kiunga.tenants.actors import Actor
from kiunga.tenants.resellers.service import reseller_choices
from kiunga.tenants.sites.service import list_sites
from kiunga.tenants.subscribers import service
from kiunga.tenants.subscribers.listing import SubscriberFilters, distinct_values, list_subscribers
from kiunga.tenants.subscribers.models import Reseller, Subscriber, SubscriberStatus
from kiunga.tenants.subscribers.panels import panels_for
from kiunga.tenants.subscribers.scopes import SUBSCRIBERS_READ, SUBSCRIBERS_WRITE
from kiunga.tenants.subscribers.status import ALLOWED
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.status_codes import HTTP_409_CONFLICT

FORM_FIELDS = ("name", "account_number", "phone", "email", "region", "branch", "address",
               "unit", "language", "notes", "site_id", "reseller_id")  # fmt: skip
PER_PAGE = 25


def _can_write(request: Request) -> bool:
    principal = request.user
    return isinstance(principal, StaffPrincipal) and SUBSCRIBERS_WRITE in principal.scopes


def _actor(request: Request) -> Actor:
    principal: StaffPrincipal = request.user
    return Actor.staff(principal.staff_id, principal.email)


def _filters(request: Request) -> tuple[SubscriberFilters, dict[str, str]]:
    params = request.query_params
    keys = ("q", "status", "region", "reseller_id")
    chosen = {key: (params.get(key) or "").strip() for key in keys}
    status = chosen["status"] if chosen["status"] in set(SubscriberStatus) else ""
    chosen["status"] = status
    if not chosen["reseller_id"].isdigit():
        chosen["reseller_id"] = ""
    filters = SubscriberFilters(
        status=SubscriberStatus(status) if status else None,
        region=chosen["region"] or None,
        reseller_id=int(chosen["reseller_id"]) if chosen["reseller_id"] else None,
        q=chosen["q"] or None,
    )
    return filters, chosen


def _reseller_from_form(form) -> int | None:
    reseller = (form.get("reseller_id") or "").strip()
    if reseller and not reseller.isdigit():
        raise service.SubscriberError("reseller_id", "choose a reseller from the list")
    return int(reseller) if reseller else None


def _fields_from_form(form) -> service.SubscriberFields:
    phone = (form.get("phone") or "").strip()
    site = (form.get("site_id") or "").strip()
    if site and not site.isdigit():
        raise service.SubscriberError("site_id", "choose a site from the list")
    return service.SubscriberFields(
        name=form.get("name", ""),
        account_number=(form.get("account_number") or "").strip() or None,
        phones=[phone] if phone else [],
        email=form.get("email") or None,
        region=form.get("region", ""),
        branch=form.get("branch", ""),
        address=form.get("address", ""),
        unit=form.get("unit", ""),
        language=form.get("language") or "en",
        notes=form.get("notes", ""),
        site_id=int(site) if site else None,
        reseller_id=_reseller_from_form(form),
    )


async def _load(session, subscriber_id: int) -> Subscriber:
    return await service.get_subscriber(session, subscriber_id)


async def _detail(request, session, subscriber, *, error=None, status_code=200) -> Response:
    return page(
        request,
        "subscribers/detail.html",
        status_code=status_code,
        subscriber=subscriber,
        reseller=await session.get(Reseller, subscriber.reseller_id)
        if subscriber.reseller_id
        else None,
        history=await service.status_history(session, subscriber.id),
        next_statuses=sorted(ALLOWED[subscriber.status], key=list(SubscriberStatus).index),
        error=error,
        can_write=_can_write(request),
        scopes=request.user.scopes,
        # What other areas show of the subscriber (see panels.py), as this staff may see.
        panels=await panels_for(session, subscriber.id, request.user.scopes),
    )


EDITABLE = ("name", "account_number", "region", "branch", "address", "unit", "notes")


def _form_of(subscriber: Subscriber) -> dict[str, str]:
    form = {key: getattr(subscriber, key) or "" for key in EDITABLE + ("email",)}
    form["phone"] = ", ".join(phone.phone for phone in subscriber.phones)
    form["language"] = subscriber.language.value
    form["reseller_id"] = str(subscriber.reseller_id or "")
    return form


async def _edit_form(
    request, session, subscriber, *, form, errors=None, status_code=200
) -> Response:
    return page(
        request,
        "subscribers/edit.html",
        status_code=status_code,
        subscriber=subscriber,
        form=form,
        errors=errors or {},
        resellers=await reseller_choices(session),
    )


async def _new_form(request, session, *, form=None, errors=None, status_code=200) -> Response:
    return page(
        request,
        "subscribers/new.html",
        status_code=status_code,
        form=form or {"language": "en"},
        errors=errors or {},
        sites=await list_sites(session),
        resellers=await reseller_choices(session),
    )


class SubscribersPageController(Controller):
    path = "/subscribers"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(SUBSCRIBERS_READ)]

    @get()
    async def subscribers_page(self, request: Request, tenant_session: TenantSession) -> Response:
        filters, chosen = _filters(request)
        pages = requested_page(request, PER_PAGE, keep=chosen, path="/subscribers")
        found = await list_subscribers(
            tenant_session, filters, page=pages.number, per_page=pages.size
        )
        return page(
            request,
            "subscribers/index.html",
            found=found,
            chosen=chosen,
            statuses=[status.value for status in SubscriberStatus],
            regions=await distinct_values(tenant_session, Subscriber.region),
            resellers=await reseller_choices(tenant_session),
            pages=pages.counted(found.total),
            can_write=_can_write(request),
        )

    @get("/new", guards=[requires_scopes(SUBSCRIBERS_WRITE)])
    async def new_subscriber(self, request: Request, tenant_session: TenantSession) -> Response:
        return await _new_form(request, tenant_session)

    @post(guards=[requires_scopes(SUBSCRIBERS_WRITE)])
    async def add_subscriber(self, request: Request, tenant_session: TenantSession) -> Response:
        form = await request.form()
        try:
            subscriber = await service.create_subscriber(
                tenant_session, _fields_from_form(form), actor=_actor(request)
            )
        except service.SubscriberError as exc:
            field = "phone" if exc.field.startswith("phones") else exc.field
            return await _new_form(
                request,
                tenant_session,
                form={key: form.get(key, "") for key in FORM_FIELDS},
                errors={field: exc.message},
                status_code=exc.status_code,
            )
        return Redirect(f"/subscribers/{subscriber.id}", status_code=303)

    @get("/{subscriber_id:int}")
    async def subscriber_page(
        self, request: Request, tenant_session: TenantSession, subscriber_id: FromPath[Id]
    ) -> Response:
        return await _detail(request, tenant_session, await _load(tenant_session, subscriber_id))

    @get("/{subscriber_id:int}/edit", guards=[requires_scopes(SUBSCRIBERS_WRITE)])
    async def edit_page(
        self, request: Request, tenant_session: TenantSession, subscriber_id: FromPath[Id]
    ) -> Response:
        subscriber = await _load(tenant_session, subscriber_id)
        return await _edit_form(request, tenant_session, subscriber, form=_form_of(subscriber))

    @post("/{subscriber_id:int}/edit", guards=[requires_scopes(SUBSCRIBERS_WRITE)])
    async def save(
        self, request: Request, tenant_session: TenantSession, subscriber_id: FromPath[Id]
    ) -> Response:
        form = await request.form()
        subscriber = await _load(tenant_session, subscriber_id)
        phones = [p.strip() for p in (form.get("phone") or "").split(",") if p.strip()]
        try:
            changes = service.SubscriberFields(
                **{key: form.get(key, "") for key in EDITABLE},
                email=form.get("email") or None,
                language=form.get("language") or "en",
                phones=phones,
                reseller_id=_reseller_from_form(form),
            )
            await service.update_subscriber(tenant_session, subscriber.id, changes)
        except service.SubscriberError as exc:
            await tenant_session.rollback()
            field = "phone" if exc.field.startswith("phones") else exc.field
            return await _edit_form(
                request, tenant_session, await _load(tenant_session, subscriber_id),
                form={key: form.get(key, "") for key in FORM_FIELDS},
                errors={field: exc.message},
                status_code=exc.status_code,
            )  # fmt: skip
        return Redirect(f"/subscribers/{subscriber.id}", status_code=303)

    @post("/{subscriber_id:int}/status", guards=[requires_scopes(SUBSCRIBERS_WRITE)])
    async def change_status(
        self, request: Request, tenant_session: TenantSession, subscriber_id: FromPath[Id]
    ) -> Response:
        form = await request.form()
        subscriber = await _load(tenant_session, subscriber_id)
        try:
            target = service.check.status(form.get("status", ""))
            await service.set_status(
                tenant_session,
                subscriber.id,
                target,
                reason=form.get("reason", ""),
                actor=_actor(request),
            )
        except service.SubscriberError as exc:
            return await _detail(
                request, tenant_session, subscriber, error=exc.message,
                status_code=HTTP_409_CONFLICT,
            )  # fmt: skip
        return Redirect(f"/subscribers/{subscriber.id}", status_code=303)
