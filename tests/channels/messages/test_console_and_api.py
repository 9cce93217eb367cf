"""The Messages page and API: the template editor (preview, segment count, placeholders
checked, saved text used by the next notification), the log, campaigns with their
counted confirmation, and who may do what."""

from __future__ import annotations

from kiunga.channels.messages.models import ChannelContact, Message
from kiunga.platform.models import StaffRole
from kiunga.tenants.subscribers.models import Subscriber, SubscriberPhone
from sqlalchemy import func, select
from sqlalchemy.orm import Session


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def _subscriber(engine, schema, account, phone, *, name="Achieng Otieno", opted_out=False):
    mapped = engine.execution_options(schema_translate_map={None: schema})
    with Session(mapped) as session, session.begin():
        subscriber = Subscriber(account_number=account, name=name)
        session.add(subscriber)
        session.flush()
        session.add(SubscriberPhone(subscriber_id=subscriber.id, phone=phone, is_primary=True))
        if opted_out:
            session.add(ChannelContact(phone=phone, marketing_opt_out=True))
        return subscriber.id


def _messages(engine, schema):
    mapped = engine.execution_options(schema_translate_map={None: schema})
    with Session(mapped) as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


async def test_template_editor_previews_counts_checks_and_saves(
    client_for, make_tenant, make_staff, login, csrf_token_in
):
    tenant = make_tenant()
    client = client_for(tenant.host)
    await login(client, make_staff(tenant.id, StaffRole.ADMIN))
    listing = await client.get("/messages")
    assert listing.status_code == 200
    assert 'href="/messages/templates/receipt/sw"' in listing.text
    editor = await client.get("/messages/templates/receipt/en")
    assert editor.status_code == 200
    assert "we received KES 1,500.00, receipt RCP-000123" in editor.text
    assert "catalogue" in editor.text
    token = csrf_token_in(editor.text)

    wrong = await client.post(
        "/messages/templates/receipt/en",
        data={"body": "Got {amount} from {nobody}", "action": "save", "_csrf_token": token},
    )
    assert wrong.status_code == 400 and "unknown placeholder {nobody}" in wrong.text

    long_text = "Asante {name}! " + "x" * 150  # with the sample name: over 160 characters
    preview = await client.post(
        "/messages/templates/receipt/en",
        data={"body": long_text, "action": "preview", "_csrf_token": token},
    )
    assert preview.status_code == 200
    assert "2 SMS segments" in preview.text and "GSM-7" in preview.text
    emoji = await client.post(
        "/messages/templates/receipt/en",
        data={"body": "Asante {name} 🙏", "action": "preview", "_csrf_token": token},
    )
    assert "1 SMS segment " in emoji.text and "UCS-2" in emoji.text

    saved = await client.post(
        "/messages/templates/receipt/en",
        data={"body": "Paid {amount}. Asante {name}!", "action": "save", "_csrf_token": token},
    )
    assert saved.status_code == 200 and "Saved." in saved.text
    assert "Paid KES 1,500.00. Asante Amina!" in saved.text
    again = await client.get("/messages/templates/receipt/en")
    assert "The ISP&#39;s own text." in again.text or "own text" in again.text


async def test_api_templates_log_and_campaigns(client_for, make_tenant, make_key, engine):
    tenant = make_tenant()
    client = client_for(tenant.host)
    writer = make_key(tenant.id, ("messages:read", "messages:write"))
    reader = make_key(tenant.id, ("messages:read",))

    got = await client.get("/api/v1/message-templates/voucher_code/sw", headers=auth(reader))
    assert got.status_code == 200 and got.json()["custom"] is False
    assert "K7M2QX" in got.json()["preview"]
    put = await client.put(
        "/api/v1/message-templates/voucher_code/sw",
        json={"body": "Vocha: {code}"},
        headers=auth(reader),
    )
    assert put.status_code == 403
    put = await client.put(
        "/api/v1/message-templates/voucher_code/sw",
        json={"body": "Vocha: {code}"},
        headers=auth(writer),
    )
    assert put.status_code == 200 and put.json()["custom"] is True
    bad = await client.put(
        "/api/v1/message-templates/voucher_code/sw",
        json={"body": "Vocha: {code!r}"},
        headers=auth(writer),
    )
    assert bad.status_code == 400 and bad.json()
    missing = await client.get("/api/v1/message-templates/nothing/en", headers=auth(reader))
    assert missing.status_code == 404

    amina = _subscriber(engine, tenant.schema, "A1", "+254711000001", name="Amina Hassan")
    _subscriber(engine, tenant.schema, "B2", "+254711000002", opted_out=True)
    sent = await client.post(
        "/api/v1/campaigns",
        json={"body": "Habari {name}, new packages!", "name": "December"},
        headers=auth(writer),
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["recipients"] == 1
    messages = _messages(engine, tenant.schema)
    assert [(m.phone, m.body, m.kind) for m in messages] == [
        ("+254711000001", "Habari Amina, new packages!", "campaign")
    ]

    log = await client.get("/api/v1/messages?channel=sms", headers=auth(reader))
    assert log.status_code == 200 and log.json()["total"] == 1
    mine = await client.get(f"/api/v1/subscribers/{amina}/messages", headers=auth(reader))
    assert [m["kind"] for m in mine.json()["items"]] == ["campaign"]
    assert (
        await client.get("/api/v1/messages?status=bogus", headers=auth(reader))
    ).status_code == 400


async def test_outage_notice_reaches_opt_outs_after_a_counted_confirmation(
    client_for, make_tenant, make_staff, login, csrf_token_in, engine
):
    from kiunga.tenants.sites.models import Site

    tenant = make_tenant()
    mapped = engine.execution_options(schema_translate_map={None: tenant.schema})
    with Session(mapped) as session, session.begin():
        site = Site(name="Kasarani")
        session.add(site)
        session.flush()
        site_id = site.id
    first = _subscriber(engine, tenant.schema, "K1", "+254722000001")
    second = _subscriber(engine, tenant.schema, "K2", "+254722000002", opted_out=True)
    _subscriber(engine, tenant.schema, "R1", "+254722000003")  # another site
    with Session(mapped) as session, session.begin():
        for subscriber_id in (first, second):
            session.get(Subscriber, subscriber_id).site_id = site_id

    client = client_for(tenant.host)
    await login(client, make_staff(tenant.id, StaffRole.ADMIN))
    form = await client.get("/messages/campaigns/new?kind=outage")
    token = csrf_token_in(form.text)
    data = {"kind": "outage", "body": "Fibre cut at Kasarani, back by 6 pm.",
            "site_id": str(site_id), "_csrf_token": token}  # fmt: skip
    counted = await client.post("/messages/campaigns", data=data)
    assert counted.status_code == 200 and "2 recipients" in counted.text
    assert _messages(engine, tenant.schema) == []
    confirmed = await client.post("/messages/campaigns", data={**data, "confirm": "2"})
    assert confirmed.status_code == 303
    messages = _messages(engine, tenant.schema)
    assert sorted(m.phone for m in messages) == ["+254722000001", "+254722000002"]
    assert all(m.urgent and m.kind == "outage" for m in messages)
    # A plain campaign to the same site leaves the opt-out out.
    data = {**data, "kind": "campaign", "body": "Offer"}
    counted = await client.post("/messages/campaigns", data=data)
    assert "1 recipient." in counted.text

    staff_page = await client.get(f"/messages?subscriber_id={second}")
    assert "Fibre cut at Kasarani" in staff_page.text


async def test_roles(make_tenant, answers_by_role):
    tenant = make_tenant()
    allowed = {
        StaffRole.OWNER: True,
        StaffRole.ADMIN: True,
        StaffRole.SUPPORT: True,
        StaffRole.FINANCE: False,
        StaffRole.TECHNICIAN: False,
    }
    answers = await answers_by_role(tenant, allowed, "/messages", "/api/v1/messages")
    assert answers == {role: (200, 200) if ok else (403, 403) for role, ok in allowed.items()}


async def test_message_count_sanity(engine, make_tenant):
    tenant = make_tenant()
    mapped = engine.execution_options(schema_translate_map={None: tenant.schema})
    with Session(mapped) as session:
        assert session.scalar(select(func.count(Message.id))) == 0


async def test_a_sign_in_code_is_masked_in_the_log_and_not_searchable(
    client_for, make_tenant, make_key, make_staff, login, engine
):
    tenant = make_tenant()
    subscriber = _subscriber(engine, tenant.schema, "C3", "+254711000003")
    mapped = engine.execution_options(schema_translate_map={None: tenant.schema})
    with Session(mapped) as session, session.begin():
        for kind, body in (("sign_in_code", "Your code is 482915"), ("receipt", "Paid 482915")):
            session.add(
                Message(direction="out", channel="sms", phone="+254711000003", kind=kind,
                        subscriber_id=subscriber, body=body, status="sent", urgent=True)
            )  # fmt: skip
    client = client_for(tenant.host)
    reader = make_key(tenant.id, ("messages:read",))
    log = (await client.get("/api/v1/messages", headers=auth(reader))).json()["items"]
    assert sorted(m["body"] for m in log) == ["Paid 482915", "Your code is ••••••"]
    found = await client.get("/api/v1/messages?q=482915", headers=auth(reader))
    assert [m["kind"] for m in found.json()["items"]] == ["receipt"]

    await login(client, make_staff(tenant.id, StaffRole.ADMIN))
    page = await client.get(f"/messages?subscriber_id={subscriber}")
    assert page.status_code == 200
    assert "Your code is ••••••" in page.text and "Your code is 482915" not in page.text
