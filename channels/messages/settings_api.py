"""/api/v1/channel-settings: the ISP's channel settings (secrets write-only: the answer says
only whether each is set), a new callback token, and a test message. Owners' and admins'
scopes; a reseller's key is refused (the settings are the ISP's own)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from kiunga.channels.messages import settings
from kiunga.channels.messages.callbacks_web import channel_routes
from kiunga.channels.messages.models import Message, MessageChannel
from kiunga.channels.messages.outbound import queue_message
from kiunga.channels.messages.scopes import CHANNEL_SETTINGS_READ, CHANNEL_SETTINGS_WRITE
from kiunga.platform.web.controllers import TenantApiController, action
from kiunga.platform.web.dependencies import CurrentTenant, TenantSession
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import NO_NUL
from kiunga.tenants.subscribers.phones import InvalidPhone, normalise_phone
from litestar import Request, get, put
from litestar.params import JSONBody

# A bounded text field: no NUL, and no longer than any setting can be.
Setting = Annotated[str, msgspec.Meta(pattern=NO_NUL, max_length=200)]
SendRate = Annotated[int, msgspec.Meta(ge=settings.MIN_SEND_RATE, le=settings.MAX_SEND_RATE)]
ContentSid = Annotated[str, msgspec.Meta(pattern=NO_NUL, max_length=34)]
TemplateKind = Annotated[str, msgspec.Meta(pattern=NO_NUL, max_length=40)]


class ChannelCallbackUrlsRead(msgspec.Struct):
    ussd: str
    sms: str
    delivery: str
    whatsapp: str
    whatsapp_status: str


class ChannelSettingsRead(msgspec.Struct):
    configured: bool
    at_username: str | None
    at_api_key_set: bool
    at_sender_id: str | None
    at_shortcode: str | None
    at_base_url: str | None
    ussd_service_code: str | None
    ussd_extension: str | None
    ussd_dial: str | None
    twilio_account_sid: str | None
    twilio_auth_token_set: bool
    whatsapp_from: str | None
    twilio_base_url: str | None
    send_rate_per_second: int
    quiet_hours_start: str | None
    quiet_hours_end: str | None
    whatsapp_templates: dict[str, str]
    callback_urls: ChannelCallbackUrlsRead | None

    @classmethod
    def of(cls, view: settings.ChannelSettingsView) -> ChannelSettingsRead:
        fields = {f: getattr(view, f) for f in cls.__struct_fields__ if f != "callback_urls"}
        urls = view.callback_urls
        return cls(
            **fields,
            callback_urls=ChannelCallbackUrlsRead(
                **{f: getattr(urls, f) for f in ChannelCallbackUrlsRead.__struct_fields__}
            )
            if urls
            else None,
        )


class ChannelSettingsWrite(msgspec.Struct, forbid_unknown_fields=True):
    """Leave a field out to keep it; '' clears an optional one. Secrets are write-only."""

    at_username: Setting | None = None
    at_api_key: Setting | None = None
    at_sender_id: Setting | None = None
    at_shortcode: Setting | None = None
    at_base_url: Setting | None = None
    ussd_service_code: Setting | None = None
    ussd_extension: Setting | None = None
    twilio_account_sid: Setting | None = None
    twilio_auth_token: Setting | None = None
    whatsapp_from: Setting | None = None
    twilio_base_url: Setting | None = None
    send_rate_per_second: SendRate | None = None
    # "HH:MM" each; both '' for no quiet hours.
    quiet_hours_start: Setting | None = None
    quiet_hours_end: Setting | None = None
    # Notification kind → approved Content SID (HX…); '' removes one.
    whatsapp_templates: (
        Annotated[dict[TemplateKind, ContentSid], msgspec.Meta(max_length=20)] | None
    ) = None


class TestMessageCreate(msgspec.Struct, forbid_unknown_fields=True):
    channel: Annotated[str, msgspec.Meta(pattern=NO_NUL, max_length=20)]
    phone: Annotated[str, msgspec.Meta(pattern=NO_NUL, max_length=30)]


class TestMessageRead(msgspec.Struct):
    id: int
    channel: str
    phone: str
    kind: str
    status: str
    body: str


class RotatedRead(msgspec.Struct):
    callback_urls: ChannelCallbackUrlsRead | None


def test_text(isp_name: str) -> str:
    return f"Test message from {isp_name[:60]} through Kiunga: this channel works."


async def queue_test_message(session, isp_name: str, channel: str, phone: str) -> Message:
    """A test message (kind "test", urgent: quiet hours do not hold it) on `channel`."""
    try:
        wanted = MessageChannel(channel.strip().lower())
    except ValueError:
        wanted = None
    if wanted not in (MessageChannel.SMS, MessageChannel.WHATSAPP):
        raise settings.ChannelSettingsError("channel", "channel must be sms or whatsapp")
    try:
        number = normalise_phone(phone)
    except InvalidPhone as error:
        raise settings.ChannelSettingsError("phone", str(error)) from None
    row = await settings.settings_row(session)
    if wanted is MessageChannel.SMS and (row is None or row.at_api_key_encrypted is None):
        raise settings.ChannelSettingsError("channel", "set up Africa's Talking first")
    if wanted is MessageChannel.WHATSAPP and (
        row is None or row.twilio_auth_token_encrypted is None or not row.whatsapp_from
    ):
        raise settings.ChannelSettingsError("channel", "set up Twilio's WhatsApp sender first")
    message = await queue_message(
        session, phone=number, body=test_text(isp_name), kind="test", channel=wanted, urgent=True
    )
    assert message is not None  # no dedupe key: always queued
    return message


class ChannelSettingsController(TenantApiController):
    path = "/api/v1/channel-settings"
    tags = ["channels"]

    @get(guards=[requires_scopes(CHANNEL_SETTINGS_READ)], summary="Channel settings")
    async def read_settings(self, tenant_session: TenantSession) -> ChannelSettingsRead:
        row = await settings.settings_row(tenant_session)
        return ChannelSettingsRead.of(settings.settings_view(row))

    @put(
        guards=[requires_scopes(CHANNEL_SETTINGS_WRITE)],
        summary="Change them (secrets are write-only; leave a field out to keep it)",
    )
    async def write_settings(
        self,
        request: Request,
        tenant_session: TenantSession,
        tenant: CurrentTenant,
        data: JSONBody[ChannelSettingsWrite],
    ) -> ChannelSettingsRead:
        change = settings.ChannelSettingsChange(
            **{f: getattr(data, f) for f in data.__struct_fields__}
        )
        row = await settings.update_settings(tenant_session, tenant.id, change)
        await tenant_session.commit()
        channel_routes(request).forget()  # the USSD code or the token may have changed
        return ChannelSettingsRead.of(settings.settings_view(row))

    @action(
        "/rotate-callback-token",
        CHANNEL_SETTINGS_WRITE,
        summary="New callback URLs: the old ones stop working at once",
    )
    async def rotate_token(
        self, request: Request, tenant_session: TenantSession, tenant: CurrentTenant
    ) -> RotatedRead:
        await settings.rotate_callback_token(tenant_session, tenant.id)
        await tenant_session.commit()
        channel_routes(request).forget()
        view = settings.settings_view(await settings.settings_row(tenant_session))
        return RotatedRead(ChannelSettingsRead.of(view).callback_urls)

    @action(
        "/test-message",
        CHANNEL_SETTINGS_WRITE,
        summary="Queue a test message to a phone, by SMS or WhatsApp",
    )
    async def test_message(
        self,
        tenant_session: TenantSession,
        tenant: CurrentTenant,
        data: JSONBody[TestMessageCreate],
    ) -> TestMessageRead:
        message = await queue_test_message(tenant_session, tenant.name, data.channel, data.phone)
        read = TestMessageRead(
            message.id,
            message.channel.value,
            message.phone,
            message.kind,
            message.status.value,
            message.body,
        )
        await tenant_session.commit()
        return read
