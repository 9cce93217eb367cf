"""The console's Channels page (/settings/channels): the ISP's Africa's Talking and Twilio
accounts (secrets shown only as set or not set), its USSD code, send rate, quiet hours and
WhatsApp templates; the callback URLs to paste into the providers' dashboards with a button
that makes new ones; and a test message. Every action asks for a confirmation first."""

from __future__ import annotations

from dataclasses import dataclass, fields
from urllib.parse import quote

from kiunga.channels.messages import settings
from kiunga.channels.messages.callbacks_web import channel_routes
from kiunga.channels.messages.scopes import CHANNEL_SETTINGS_READ, CHANNEL_SETTINGS_WRITE
from kiunga.channels.messages.settings_api import queue_test_message
from kiunga.platform.errors import DomainError
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import CurrentTenant, TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from litestar import Controller, Request, Response, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect
from litestar.status_codes import HTTP_400_BAD_REQUEST

PATH = "/settings/channels"
TEMPLATE = "messages/channel_settings.html"
# Longer than any setting: a form value over it is refused before it is looked at.
MAX_FORM_VALUE = 200


@dataclass
class ChannelSettingsForm:
    at_username: str = ""
    at_api_key: str = ""
    at_sender_id: str = ""
    at_shortcode: str = ""
    at_base_url: str = ""
    ussd_service_code: str = ""
    ussd_extension: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    whatsapp_from: str = ""
    twilio_base_url: str = ""
    send_rate_per_second: str = "20"
    quiet_hours_start: str = ""
    quiet_hours_end: str = ""
    template_receipt: str = ""
    template_due_soon: str = ""
    template_overdue: str = ""
    template_suspended: str = ""
    template_restored: str = ""
    template_voucher_code: str = ""
    template_ticket_reply: str = ""
    template_ticket_status: str = ""
    template_outage: str = ""
    template_campaign: str = ""


@dataclass
class RotateForm:
    confirm: str = ""


@dataclass
class TestMessageForm:
    channel: str = "sms"
    phone: str = ""


def _form_of(view: settings.ChannelSettingsView) -> ChannelSettingsForm:
    form = ChannelSettingsForm()
    for item in fields(form):
        if hasattr(view, item.name) and item.name not in settings.SECRET_FIELDS:
            value = getattr(view, item.name)
            setattr(form, item.name, "" if value is None else str(value))
    for kind in settings.TEMPLATE_KINDS:
        setattr(form, f"template_{kind}", view.whatsapp_templates.get(kind, ""))
    return form


def _change_of(form: ChannelSettingsForm) -> settings.ChannelSettingsChange:
    for item in fields(form):
        if len(getattr(form, item.name)) > MAX_FORM_VALUE:
            raise settings.ChannelSettingsError(
                item.name, f"{item.name} must be at most {MAX_FORM_VALUE} characters"
            )
    rate = form.send_rate_per_second.strip()
    if not rate.isdigit() or len(rate) > 5:
        raise settings.ChannelSettingsError(
            "send_rate_per_second",
            f"send_rate_per_second must be a whole number, {settings.MIN_SEND_RATE} to "
            f"{settings.MAX_SEND_RATE}",
        )
    plain = {
        item.name: getattr(form, item.name)
        for item in fields(settings.ChannelSettingsChange)
        if hasattr(form, item.name)
        and item.name not in settings.SECRET_FIELDS
        and item.name != "send_rate_per_second"
    }
    return settings.ChannelSettingsChange(
        **plain,
        # An empty secret field keeps the saved secret.
        at_api_key=form.at_api_key.strip() or None,
        twilio_auth_token=form.twilio_auth_token.strip() or None,
        send_rate_per_second=int(rate),
        whatsapp_templates={
            kind: getattr(form, f"template_{kind}") for kind in settings.TEMPLATE_KINDS
        },
    )


async def _render(
    request: Request,
    session,
    *,
    form: ChannelSettingsForm | None = None,
    test_form: TestMessageForm | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    view = settings.settings_view(await settings.settings_row(session))
    return page(
        request,
        TEMPLATE,
        status_code=status,
        view=view,
        form=form or _form_of(view),
        test_form=test_form or TestMessageForm(),
        errors=errors or {},
        notice=(request.query_params.get("notice") or "")[:200] or None,
        template_kinds=settings.TEMPLATE_KINDS,
        can_write=CHANNEL_SETTINGS_WRITE in request.user.scopes,
    )


class ChannelSettingsPageController(Controller):
    path = PATH
    include_in_schema = False
    guards = [tenant_only, staff_only]

    @get(guards=[requires_scopes(CHANNEL_SETTINGS_READ)])
    async def settings_page(self, request: Request, tenant_session: TenantSession) -> Response:
        return await _render(request, tenant_session)

    @post(guards=[requires_scopes(CHANNEL_SETTINGS_WRITE)])
    async def save_settings(
        self,
        request: Request,
        tenant_session: TenantSession,
        tenant: CurrentTenant,
        data: URLEncodedBody[ChannelSettingsForm],
    ) -> Response:
        try:
            async with tenant_session.begin_nested():
                await settings.update_settings(tenant_session, tenant.id, _change_of(data))
        except settings.ChannelSettingsError as error:
            data.at_api_key = data.twilio_auth_token = ""  # never echoed back into the page
            for item in fields(data):
                setattr(data, item.name, getattr(data, item.name)[:MAX_FORM_VALUE])
            return await _render(
                request, tenant_session, form=data, errors=error.form_errors(),
                status=error.status_code if error.status_code < 500 else HTTP_400_BAD_REQUEST,
            )  # fmt: skip
        await tenant_session.commit()
        channel_routes(request).forget()
        return Redirect(f"{PATH}?notice=Saved", status_code=303)

    @post("/rotate-token", guards=[requires_scopes(CHANNEL_SETTINGS_WRITE)])
    async def rotate_token(
        self,
        request: Request,
        tenant_session: TenantSession,
        tenant: CurrentTenant,
        data: URLEncodedBody[RotateForm],
    ) -> Response:
        if data.confirm != "1":
            return await _render(
                request, tenant_session, status=HTTP_400_BAD_REQUEST,
                errors={"confirm": "Tick the box to confirm: the old addresses stop at once"},
            )  # fmt: skip
        try:
            await settings.rotate_callback_token(tenant_session, tenant.id)
        except settings.ChannelSettingsError as error:
            return await _render(
                request, tenant_session, errors=error.form_errors(), status=error.status_code
            )
        await tenant_session.commit()
        channel_routes(request).forget()
        notice = "New callback addresses: paste them into Africa's Talking and Twilio"
        return Redirect(f"{PATH}?notice={quote(notice)}", status_code=303)

    @post("/test-message", guards=[requires_scopes(CHANNEL_SETTINGS_WRITE)])
    async def test_message(
        self,
        request: Request,
        tenant_session: TenantSession,
        tenant: CurrentTenant,
        data: URLEncodedBody[TestMessageForm],
    ) -> Response:
        data.channel, data.phone = data.channel[:20], data.phone[:30]
        try:
            async with tenant_session.begin_nested():
                message = await queue_test_message(
                    tenant_session, tenant.name, data.channel, data.phone
                )
        except DomainError as error:
            return await _render(
                request, tenant_session, test_form=data,
                errors=error.form_errors("test_"), status=error.status_code,
            )  # fmt: skip
        phone = message.phone
        await tenant_session.commit()
        notice = f"Test message queued to {phone}: see it in the message log"
        return Redirect(f"{PATH}?notice={quote(notice)}", status_code=303)
