"""The API's shapes for M-Pesa. Secrets are write-only: reads say only whether each is set."""

from __future__ import annotations

from datetime import datetime

import msgspec
from kiunga.platform.web.inputs import Amount, Id, Text
from kiunga.tenants.mpesa.config import SettingsView
from kiunga.tenants.mpesa.models import MpesaCallback, MpesaRequest, MpesaTransaction


class CallbackUrlsRead(msgspec.Struct):
    stk: str
    validation: str
    confirmation: str
    result: str
    timeout: str


class SettingsRead(msgspec.Struct):
    configured: bool
    environment: str | None
    base_url: str | None
    shortcode_type: str | None
    shortcode: str | None
    till_number: str | None
    initiator_name: str | None
    consumer_key_set: bool
    consumer_secret_set: bool
    passkey_set: bool
    security_credential_set: bool
    allowed_sources: list[str]
    callback_urls: CallbackUrlsRead | None
    c2b_registered_at: datetime | None
    c2b_registration_error: str | None

    @classmethod
    def of(cls, view: SettingsView) -> SettingsRead:
        fields = {f: getattr(view, f) for f in cls.__struct_fields__ if f != "callback_urls"}
        urls = view.callback_urls
        return cls(
            **fields,
            callback_urls=CallbackUrlsRead(
                **{f: getattr(urls, f) for f in CallbackUrlsRead.__struct_fields__}
            )
            if urls
            else None,
        )


class SettingsWrite(msgspec.Struct, forbid_unknown_fields=True):
    environment: Text | None = None
    base_url: Text | None = None
    shortcode_type: Text | None = None
    shortcode: Text | None = None
    till_number: Text | None = None
    consumer_key: Text | None = None
    consumer_secret: Text | None = None
    passkey: Text | None = None
    initiator_name: Text | None = None
    security_credential: Text | None = None
    allowed_sources: list[Text] | None = None


class CheckRead(msgspec.Struct):
    ok: bool
    message: str
    callback_urls: CallbackUrlsRead | None = None


class StkPushCreate(msgspec.Struct, forbid_unknown_fields=True):
    amount: Amount
    phone: Text | None = None
    subscriber_id: Id | None = None
    account_number: Text | None = None


class RequestRead(msgspec.Struct):
    id: int
    subscriber_id: int | None
    account_reference: str
    phone: str
    amount: int
    status: str
    checkout_request_id: str | None
    merchant_request_id: str | None
    result_code: int | None
    result_desc: str | None
    receipt: str | None
    payment_id: int | None
    requested_by: str
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, request: MpesaRequest) -> RequestRead:
        values = {f: getattr(request, f) for f in cls.__struct_fields__}
        values["status"] = request.status.value
        return cls(**values)


class RequestPage(msgspec.Struct):
    items: list[RequestRead]
    total: int
    limit: int
    offset: int


class TransactionRead(msgspec.Struct):
    id: int
    receipt: str | None
    source: str
    amount: int
    status: str
    flag: str | None
    detail: str | None
    shortcode: str | None
    bill_ref: str | None
    msisdn: str | None
    phone: str | None
    payer_name: str | None
    paid_at: datetime
    subscriber_id: int | None
    payment_id: int | None
    request_id: int | None
    assigned_by: str | None
    assigned_at: datetime | None

    @classmethod
    def of(cls, transaction: MpesaTransaction) -> TransactionRead:
        values = {f: getattr(transaction, f) for f in cls.__struct_fields__}
        values["status"] = transaction.status.value
        return cls(**values)


class TransactionPage(msgspec.Struct):
    items: list[TransactionRead]
    total: int
    limit: int
    offset: int


class AssignCreate(msgspec.Struct, forbid_unknown_fields=True):
    account_number: Text


class CallbackRead(msgspec.Struct):
    id: int
    kind: str
    received_at: datetime
    source_address: str | None
    outcome: str
    flag: str | None
    detail: str | None
    receipt: str | None
    checkout_request_id: str | None
    raw_body: str

    @classmethod
    def of(cls, callback: MpesaCallback) -> CallbackRead:
        values = {f: getattr(callback, f) for f in cls.__struct_fields__}
        values["kind"] = callback.kind.value
        values["outcome"] = callback.outcome.value
        return cls(**values)


class CallbackPage(msgspec.Struct):
    items: list[CallbackRead]
    total: int
    limit: int
    offset: int
