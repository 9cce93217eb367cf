"""The providers' reports on messages sent: Africa's Talking's delivery reports and Twilio's
signed status callbacks, on the ISP's secret path. An unknown token or a wrong signature
stores nothing; a retry is stored once; bad bodies are 4xx, never 500; one ISP's token
never touches another ISP's messages."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from kiunga.channels.messages.models import (
    ChannelCallback,
    Message,
    MessageChannel,
    MessageStatus,
)
from kiunga.channels.messages.outbound import queue_message
from kiunga.integrations.twilio.signature import sign
from sqlalchemy import func, select

from .conftest import new_auth_token
from fixtures.round_trips import RoundTrips

PHONE = "+254712345678"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PUBLIC = "http://127.0.0.1:8000"  # KIUNGA_PUBLIC_URL as the test settings make it


async def sent_message(unit_of_work, isp, channel: MessageChannel, provider_id: str) -> int:
    """A message the sender handed to the provider under `provider_id`."""
    async with unit_of_work(isp.schema) as session:
        message = await queue_message(
            session, phone=PHONE, body="Your receipt", kind="receipt", channel=channel, urgent=True
        )
        message.status = MessageStatus.SENT
        message.provider_id = provider_id
        return message.id


async def message_of(unit_of_work, isp, message_id: int) -> Message:
    async with unit_of_work(isp.schema) as session:
        return await session.get(Message, message_id)


async def callbacks_in(unit_of_work, isp) -> list[ChannelCallback]:
    async with unit_of_work(isp.schema) as session:
        return list((await session.scalars(select(ChannelCallback))).all())


def delivery_form(message_id: str, status: str = "Success", **extra) -> dict[str, str]:
    form = {
        "id": message_id,
        "status": status,
        "phoneNumber": PHONE,
        "networkCode": "63902",
        "retryCount": "0",
        **extra,
    }
    if status != "Success":
        form.setdefault("failureReason", "AbsentSubscriber")
    return form


def status_form(sid: str, status: str = "delivered", **extra) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "From": "whatsapp:+14155238886",
        "To": f"whatsapp:{PHONE}",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def signed(auth_token: str, path: str, form: dict[str, str], base: str = PUBLIC) -> dict:
    return {**FORM, "X-Twilio-Signature": sign(auth_token, base + path, form)}


# --- Africa's Talking's delivery reports ---------------------------------------------------


async def test_a_delivery_report_is_stored_applied_and_a_retry_is_stored_once(
    make_channel_isp, client_for, unit_of_work
):
    isp = await make_channel_isp()
    message_id = await sent_message(unit_of_work, isp, MessageChannel.SMS, "ATXid_1")
    client = client_for("anything.example")  # any host: the token names the ISP
    body = urlencode(delivery_form("ATXid_1"))
    first = await client.post(isp.hook("delivery"), content=body, headers=FORM)
    assert first.status_code == 200, first.text
    again = await client.post(isp.hook("delivery"), content=body, headers=FORM)
    assert again.status_code == 200
    message = await message_of(unit_of_work, isp, message_id)
    assert message.status is MessageStatus.DELIVERED and message.delivered_at is not None
    assert message.network_code == "63902" and message.retry_count == 0
    stored = await callbacks_in(unit_of_work, isp)
    assert [(c.kind, c.provider_key) for c in stored] == [
        ("africastalking.delivery", "ATXid_1:Success")
    ]
    assert stored[0].processed_at is not None and stored[0].raw_body == body


async def test_a_failed_delivery_keeps_its_reason(make_channel_isp, client_for, unit_of_work):
    isp = await make_channel_isp()
    message_id = await sent_message(unit_of_work, isp, MessageChannel.SMS, "ATXid_2")
    form = delivery_form("ATXid_2", "Failed", failureReason="DeliveryFailure", retryCount="3")
    answer = await client_for("x").post(isp.hook("delivery"), data=form)
    assert answer.status_code == 200
    message = await message_of(unit_of_work, isp, message_id)
    assert message.status is MessageStatus.UNDELIVERED
    assert (message.failure_reason, message.retry_count) == ("DeliveryFailure", 3)


async def test_an_unknown_token_is_404_and_stores_nothing(
    make_channel_isp, client_for, unit_of_work
):
    isp = await make_channel_isp()
    client = client_for("x")
    for path in ("delivery", "whatsapp/status"):
        for token in (secrets.token_urlsafe(24), "x" * 101, isp.token[:-1]):
            answer = await client.post(
                f"/hooks/channels/{token}/{path}",
                content=urlencode(delivery_form("ATXid_3")),
                headers=FORM,
            )
            assert answer.status_code == 404, (path, token)
    assert await callbacks_in(unit_of_work, isp) == []


async def test_bad_bodies_are_refused_4xx_never_500(make_channel_isp, client_for, unit_of_work):
    isp = await make_channel_isp()
    client = client_for("x")
    hook = isp.hook("delivery")
    nul = await client.post(hook, content=b"id=ATXid_4%00&status=Success", headers=FORM)
    assert nul.status_code == 400
    raw_nul = await client.post(hook, content=b"id=ATX\x00&status=Success", headers=FORM)
    assert raw_nul.status_code == 400
    latin = await client.post(hook, content=b"id=\xff\xfe&status=Success", headers=FORM)
    assert latin.status_code == 400
    no_id = await client.post(hook, content=b"status=Success", headers=FORM)
    assert no_id.status_code == 400
    long_id = await client.post(
        hook, content=urlencode(delivery_form("A" * 5000)).encode(), headers=FORM
    )
    assert long_id.status_code == 400
    huge = await client.post(hook, content=b"id=1&status=Success&x=" + b"y" * 20_000, headers=FORM)
    assert huge.status_code == 413
    # Kept for a person to look at (with why), never applied; the huge one not kept.
    stored = await callbacks_in(unit_of_work, isp)
    assert len(stored) == 5 and all(c.error and c.processed_at is None for c in stored)
    assert all("\x00" not in c.raw_body for c in stored)
    # And the next good report is processed as usual.
    message_id = await sent_message(unit_of_work, isp, MessageChannel.SMS, "ATXid_5")
    good = await client.post(hook, data=delivery_form("ATXid_5"))
    assert good.status_code == 200
    assert (await message_of(unit_of_work, isp, message_id)).status is MessageStatus.DELIVERED


async def test_one_isps_token_never_touches_another_isps_messages(
    make_channel_isp, client_for, unit_of_work
):
    a, b = await make_channel_isp("chra"), await make_channel_isp("chrb")
    b_message = await sent_message(unit_of_work, b, MessageChannel.SMS, "ATXid_b")
    b_whatsapp = await sent_message(unit_of_work, b, MessageChannel.WHATSAPP, "SM" + "b" * 32)
    client = client_for(b.host)  # even on B's own host
    answer = await client.post(a.hook("delivery"), data=delivery_form("ATXid_b", "Failed"))
    assert answer.status_code == 200
    form = status_form("SM" + "b" * 32, "failed", ErrorCode="30008")
    # Signed with A's token over A's path: genuine for A, and A has no such message.
    status = await client.post(
        a.hook("whatsapp/status"),
        content=urlencode(form),
        headers=signed(a.auth_token, a.hook("whatsapp/status"), form),
    )
    assert status.status_code == 200
    assert (await message_of(unit_of_work, b, b_message)).status is MessageStatus.SENT
    assert (await message_of(unit_of_work, b, b_whatsapp)).status is MessageStatus.SENT
    assert await callbacks_in(unit_of_work, b) == []
    assert len(await callbacks_in(unit_of_work, a)) == 2
    # B's signature on A's path is not A's.
    forged = await client.post(
        a.hook("whatsapp/status"),
        content=urlencode(form),
        headers=signed(b.auth_token, a.hook("whatsapp/status"), form),
    )
    assert forged.status_code == 403


# Before: the report stored (BEGIN, INSERT, COMMIT), applied (BEGIN, SELECT … FOR UPDATE,
# UPDATE, COMMIT) and marked processed (BEGIN, UPDATE, COMMIT), each on a connection of its
# own (3 pings): 13 round trips. Now one transaction: BEGIN, INSERT (as processed),
# UPDATE … RETURNING (the message found by the provider-id index), COMMIT; the pool pings
# only a connection that sat idle.
MOST_PER_REPORT = 4


async def test_a_delivery_report_is_one_transaction_of_a_few_round_trips(
    app, make_channel_isp, client_for, unit_of_work
):
    isp = await make_channel_isp()
    first = await sent_message(unit_of_work, isp, MessageChannel.SMS, "ATXid_rt1")
    second = await sent_message(unit_of_work, isp, MessageChannel.SMS, "ATXid_rt2")
    client = client_for("x")
    # Warm: the token's route cached, as a running server has it.
    assert (await client.post(isp.hook("delivery"), data=delivery_form("ATXid_rt1"))).is_success
    with RoundTrips(app.services.database.engine.sync_engine) as trips:
        answer = await client.post(isp.hook("delivery"), data=delivery_form("ATXid_rt2"))
    assert answer.status_code == 200, answer.text
    print(f"a delivery report: {len(trips.seen)} round trips: {trips.seen}")
    assert len(trips.seen) <= MOST_PER_REPORT, trips.seen
    assert trips.seen.count("COMMIT") == 1, trips.seen
    for message_id in (first, second):
        message = await message_of(unit_of_work, isp, message_id)
        assert message.status is MessageStatus.DELIVERED
    stored = await callbacks_in(unit_of_work, isp)
    assert len(stored) == 2 and all(c.processed_at and c.error is None for c in stored)


async def test_a_report_never_moves_a_message_back(make_channel_isp, client_for, unit_of_work):
    isp = await make_channel_isp()
    message_id = await sent_message(unit_of_work, isp, MessageChannel.SMS, "ATXid_back")
    hooks = client_for("x")
    for status in ("Success", "Sent", "Buffered"):
        form = delivery_form("ATXid_back", status, networkCode="63903")
        form.pop("failureReason", None)
        assert (await hooks.post(isp.hook("delivery"), data=form)).status_code == 200
    message = await message_of(unit_of_work, isp, message_id)
    assert message.status is MessageStatus.DELIVERED and message.network_code == "63903"
    failed = delivery_form("ATXid_back", "Failed", failureReason="DeliveryFailure")
    assert (await hooks.post(isp.hook("delivery"), data=failed)).status_code == 200
    assert (await message_of(unit_of_work, isp, message_id)).status is MessageStatus.DELIVERED


async def test_the_message_is_found_by_the_provider_id_index(make_channel_isp, unit_of_work):
    """The report's lookup is an index scan (uq_messages_provider_id), not a scan of the
    message log."""
    from sqlalchemy import text

    isp = await make_channel_isp()
    await sent_message(unit_of_work, isp, MessageChannel.SMS, "ATXid_ix")
    async with unit_of_work(isp.schema) as session:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            await session.scalars(
                text(
                    f"EXPLAIN UPDATE \"{isp.schema}\".messages SET status = 'delivered'"
                    " WHERE channel = 'sms' AND direction = 'out' AND provider_id = :id"
                    " AND status IN ('queued', 'sent')"
                ).bindparams(id="ATXid_ix")
            )
        )
    assert "uq_messages_provider_id" in plan, plan


# --- Twilio's status callbacks -------------------------------------------------------------


async def test_a_signed_status_callback_is_applied_and_a_retry_stored_once(
    make_channel_isp, client_for, unit_of_work
):
    isp = await make_channel_isp()
    sid = "SM" + secrets.token_hex(16)
    message_id = await sent_message(unit_of_work, isp, MessageChannel.WHATSAPP, sid)
    path = isp.hook("whatsapp/status")
    # The app sees its own host and scheme; Twilio signed the public URL.
    client = client_for("internal-backend:8080")
    for status in ("sent", "delivered", "read", "read"):
        form = status_form(sid, status)
        answer = await client.post(
            path, content=urlencode(form), headers=signed(isp.auth_token, path, form)
        )
        assert answer.status_code == 200, answer.text
    message = await message_of(unit_of_work, isp, message_id)
    assert message.status is MessageStatus.READ
    keys = sorted(c.provider_key for c in await callbacks_in(unit_of_work, isp))
    assert keys == [f"{sid}:delivered", f"{sid}:read", f"{sid}:sent"]


async def test_a_wrong_or_missing_signature_is_403_and_stores_nothing(
    make_channel_isp, client_for, unit_of_work
):
    isp = await make_channel_isp()
    sid = "SM" + secrets.token_hex(16)
    message_id = await sent_message(unit_of_work, isp, MessageChannel.WHATSAPP, sid)
    path = isp.hook("whatsapp/status")
    client = client_for("x")
    form = status_form(sid, "failed", ErrorCode="63016")
    good = signed(isp.auth_token, path, form)
    tries = [
        {**FORM},  # no signature
        {**FORM, "X-Twilio-Signature": ""},
        {**FORM, "X-Twilio-Signature": "x" * 500},
        signed(new_auth_token(), path, form),  # another account's token
        signed(isp.auth_token, path, form, base="https://evil.example"),  # another URL
        signed(isp.auth_token, isp.hook("delivery"), form),  # another path
        signed(isp.auth_token, path, {**form, "MessageStatus": "delivered"}),  # changed field
    ]
    for headers in tries:
        answer = await client.post(path, content=urlencode(form), headers=headers)
        assert answer.status_code == 403, headers
    # A field added after signing breaks it too.
    added = await client.post(path, content=urlencode({**form, "Extra": "1"}), headers=good)
    assert added.status_code == 403
    assert await callbacks_in(unit_of_work, isp) == []
    assert (await message_of(unit_of_work, isp, message_id)).status is MessageStatus.SENT
    # Unreadable bytes cannot be checked: 400, nothing stored.
    nul = await client.post(path, content=b"MessageSid=SM1%00", headers=good)
    assert nul.status_code == 400
    huge = await client.post(path, content=b"a=" + b"b" * 20_000, headers=good)
    assert huge.status_code == 413
    assert await callbacks_in(unit_of_work, isp) == []
    # The genuine one goes through.
    answer = await client.post(path, content=urlencode(form), headers=good)
    assert answer.status_code == 200
    message = await message_of(unit_of_work, isp, message_id)
    assert message.status is MessageStatus.FAILED and message.failure_reason == "63016"


async def test_without_an_auth_token_no_status_callback_is_believed(
    make_tenant, make_key, client_for, unit_of_work
):
    from kiunga.channels.messages.settings import (
        ChannelSettingsChange,
        callback_token,
        settings_row,
        update_settings,
    )

    created = make_tenant("chn")
    async with unit_of_work(created.schema) as session:
        await update_settings(session, created.id, ChannelSettingsChange(at_sender_id="ISP"))
        token = callback_token(await settings_row(session))
    path = f"/hooks/channels/{token}/whatsapp/status"
    form = status_form("SM" + "1" * 32)
    anyone = await client_for("x").post(
        path, content=urlencode(form), headers=signed("", path, form)
    )
    assert anyone.status_code == 403
    async with unit_of_work(created.schema) as session:
        assert await session.scalar(select(func.count(ChannelCallback.id))) == 0


async def test_a_rotated_token_stops_at_once_and_the_new_one_works(
    make_channel_isp, client_for, unit_of_work
):
    isp = await make_channel_isp()
    await sent_message(unit_of_work, isp, MessageChannel.SMS, "ATXid_r")
    hooks = client_for("x")
    old = isp.hook("delivery")
    # Known (and cached) before the rotation.
    assert (await hooks.post(old, data=delivery_form("ATXid_r", "Sent"))).status_code == 200
    rotated = await client_for(isp.host).post(
        "/api/v1/channel-settings/rotate-callback-token", headers=isp.headers
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["callback_urls"]["delivery"].removeprefix(PUBLIC)
    assert isp.token not in new
    assert (await hooks.post(old, data=delivery_form("ATXid_r"))).status_code == 404
    assert (await hooks.post(new, data=delivery_form("ATXid_r"))).status_code == 200
    keys = [c.provider_key for c in await callbacks_in(unit_of_work, isp)]
    assert sorted(keys) == ["ATXid_r:Sent", "ATXid_r:Success"]


async def test_a_disabled_isps_reports_are_applied_and_settle_its_doubts(
    make_channel_isp, client_for, unit_of_work, engine
):
    """A report is a fact about a message already sent: applied even while the ISP is
    disabled, so that a message in doubt it settles is not sent again once the ISP is
    enabled. Nothing is sent meanwhile (the disabled ISP's jobs are dropped)."""
    from kiunga.platform.models import TenantStatus
    from kiunga.platform.tenant_admin import set_tenant_status

    isp = await make_channel_isp()
    message_id = await sent_message(unit_of_work, isp, MessageChannel.SMS, "ATXid_d")
    async with unit_of_work(isp.schema) as session:
        doubt = await queue_message(
            session, phone="+254712000111", body="Your code", kind="receipt", urgent=True
        )
        doubt.status = MessageStatus.IN_DOUBT
    set_tenant_status(engine, isp.slug, TenantStatus.DISABLED)
    hooks = client_for("x")
    answer = await hooks.post(isp.hook("delivery"), data=delivery_form("ATXid_d"))
    assert answer.status_code == 200
    settling = delivery_form("ATXid_doubt", phoneNumber="+254712000111")
    assert (await hooks.post(isp.hook("delivery"), data=settling)).status_code == 200
    stored = await callbacks_in(unit_of_work, isp)
    assert sorted(c.provider_key for c in stored) == ["ATXid_d:Success", "ATXid_doubt:Success"]
    assert all(c.processed_at is not None and c.error is None for c in stored)
    assert (await message_of(unit_of_work, isp, message_id)).status is MessageStatus.DELIVERED
    settled = await message_of(unit_of_work, isp, doubt.id)
    assert settled.status is MessageStatus.DELIVERED and settled.provider_id == "ATXid_doubt"
    set_tenant_status(engine, isp.slug, TenantStatus.ACTIVE)
    again = await hooks.post(isp.hook("delivery"), data=settling)  # AT's retry: a repeat
    assert again.status_code == 200
    assert len(await callbacks_in(unit_of_work, isp)) == 2


async def test_a_report_that_fails_to_apply_is_kept_with_why_and_others_go_on(
    make_channel_isp, client_for, unit_of_work
):
    """A report whose applying fails (here: the database refuses the message's update, by a
    trigger of this ISP's schema) is stored with the error and answered; the next report is
    applied as usual, and the provider's retry of the failed one, once the cause is gone,
    applies it."""
    from sqlalchemy import text

    isp = await make_channel_isp()
    refused = await sent_message(unit_of_work, isp, MessageChannel.SMS, "ATXid_f1")
    fine = await sent_message(unit_of_work, isp, MessageChannel.SMS, "ATXid_f2")
    schema = f'"{isp.schema}"'
    async with unit_of_work(isp.schema) as session:
        await session.execute(
            text(
                f"CREATE FUNCTION {schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
            )
        )
        await session.execute(
            text(
                f"CREATE TRIGGER refuse BEFORE UPDATE ON {schema}.messages FOR EACH ROW"
                f" WHEN (NEW.provider_id = 'ATXid_f1') EXECUTE FUNCTION {schema}.refuse()"
            )
        )
    hooks = client_for("x")
    failed = await hooks.post(isp.hook("delivery"), data=delivery_form("ATXid_f1"))
    assert failed.status_code == 200, failed.text
    good = await hooks.post(isp.hook("delivery"), data=delivery_form("ATXid_f2"))
    assert good.status_code == 200
    kept = {c.provider_key: c for c in await callbacks_in(unit_of_work, isp)}
    assert kept["ATXid_f1:Success"].processed_at is None
    assert "refused by the test" in kept["ATXid_f1:Success"].error
    assert kept["ATXid_f2:Success"].processed_at is not None
    assert (await message_of(unit_of_work, isp, refused)).status is MessageStatus.SENT
    assert (await message_of(unit_of_work, isp, fine)).status is MessageStatus.DELIVERED
    async with unit_of_work(isp.schema) as session:
        await session.execute(text(f"DROP TRIGGER refuse ON {schema}.messages"))
    retried = await hooks.post(isp.hook("delivery"), data=delivery_form("ATXid_f1"))
    assert retried.status_code == 200
    assert (await message_of(unit_of_work, isp, refused)).status is MessageStatus.DELIVERED
    again = {c.provider_key: c for c in await callbacks_in(unit_of_work, isp)}
    assert again["ATXid_f1:Success"].id == kept["ATXid_f1:Success"].id
    assert again["ATXid_f1:Success"].processed_at is not None
    assert again["ATXid_f1:Success"].error is None
