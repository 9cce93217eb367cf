"""The "Messages" panel on a subscriber's console page: their latest messages in and out
(time in the ISP's zone, channel, way, text with sign-in codes masked, status, cost), the
way to the whole log; only this ISP's and this subscriber's; shown only to staff who may
read messages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from kiunga.channels.messages.models import Message
from kiunga.channels.messages.subscriber_panel import LATEST
from kiunga.platform.models import StaffRole, Tenant
from kiunga.tenants.actors import Actor
from kiunga.tenants.subscribers.service import SubscriberFields, create_subscriber
from sqlalchemy import update
from sqlalchemy.orm import Session

STAFF = Actor.system("test")
NOON = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _subscriber(unit_of_work, where, name, phone) -> int:
    async with unit_of_work(where) as session:
        made = await create_subscriber(
            session, SubscriberFields(name=name, phones=[phone]), actor=STAFF
        )
        return made.id


async def _messages(unit_of_work, where, *rows: dict) -> None:
    async with unit_of_work(where) as session:
        for row in rows:
            session.add(Message(urgent=False, **row))


def _panel(html: str) -> str:
    found = re.search(r'<section class="card" id="panel-messages".*?</section>', html, re.S)
    return found.group(0) if found else ""


async def test_the_panel_lists_the_latest_messages_of_this_subscriber_of_this_isp(
    make_tenant, engine, unit_of_work, client_for, login, make_staff
):
    isp, other_isp = make_tenant("panel"), make_tenant("panel")
    # The ISP's clock is 5½ hours ahead of UTC: times on the page are its own.
    with Session(engine) as session, session.begin():
        session.execute(update(Tenant).where(Tenant.id == isp.id).values(timezone="Asia/Kolkata"))
    achieng = await _subscriber(unit_of_work, isp, "Achieng Otieno", "+254711000001")
    neighbour = await _subscriber(unit_of_work, isp, "Baraka Mwangi", "+254711000002")
    stranger = await _subscriber(unit_of_work, other_isp, "Chebet Kirui", "+254711000001")
    # The other ISP's first subscriber has the same id: only the schema tells them apart.
    assert stranger == achieng

    phone = "+254711000001"
    older = [
        dict(direction="out", channel="sms", phone=phone, subscriber_id=achieng,
             kind="campaign", body=f"Old offer number {n}", status="delivered",
             created_at=NOON - timedelta(days=30) + timedelta(minutes=n))
        for n in range(LATEST)
    ]  # fmt: skip
    await _messages(unit_of_work, isp, *older)
    await _messages(
        unit_of_work,
        isp,
        dict(direction="in", channel="whatsapp", phone=phone, subscriber_id=achieng,
             kind="balance", body="Salio yangu ni ngapi?", status="received", created_at=NOON),
        dict(direction="out", channel="sms", phone=phone, subscriber_id=achieng, kind="receipt",
             body="Asante! We received KES 1,500.00", status="delivered",
             cost_micros=800_000, cost_currency="KES", created_at=NOON + timedelta(minutes=1)),
        dict(direction="out", channel="sms", phone=phone, subscriber_id=achieng,
             kind="sign_in_code", body="482915 is your sign-in code", status="sent",
             created_at=NOON + timedelta(minutes=2)),
        dict(direction="out", channel="whatsapp", phone=phone, subscriber_id=achieng,
             kind="due_soon", body="Your service ends tomorrow", status="failed",
             failure_reason="63016 outside the 24-hour window",
             created_at=NOON + timedelta(minutes=3)),
        dict(direction="out", channel="sms", phone="+254711000002", subscriber_id=neighbour,
             kind="receipt", body="Neighbour's receipt", status="sent",
             created_at=NOON + timedelta(minutes=4)),
    )  # fmt: skip
    await _messages(
        unit_of_work,
        other_isp,
        dict(direction="out", channel="sms", phone=phone, subscriber_id=stranger,
             kind="receipt", body="Another ISP's receipt", status="sent", created_at=NOON),
    )  # fmt: skip

    client = client_for(isp.host)
    await login(client, make_staff(isp.id, StaffRole.SUPPORT))
    page = await client.get(f"/subscribers/{achieng}")
    assert page.status_code == 200
    panel = _panel(page.text)
    assert "<h2" in panel and "Messages" in panel
    rows = re.findall(r"<tr class=\"message-(in|out)\">(.*?)</tr>", panel, re.S)
    assert len(rows) == LATEST
    newest = [re.sub(r"<[^>]+>", " ", cells) for _, cells in rows[:4]]
    # Newest first, in and out, each with its channel, text, status and cost.
    assert [way for way, _ in rows[:4]] == ["out", "out", "out", "in"]
    assert "2026-03-02 14:33" in newest[0] and "whatsapp" in newest[0]
    assert "failed" in newest[0] and "outside the 24-hour window" in newest[0]
    assert "•••••• is your sign-in code" in newest[1] and "482915" not in panel
    assert "Asante! We received KES 1,500.00" in newest[2] and "KES 0.8000" in newest[2]
    assert "2026-03-02 14:30" in newest[3] and "Salio yangu ni ngapi?" in newest[3]
    assert "received" in newest[3]
    # The latest LATEST of all of them, and the way to the rest.
    assert f"The latest {LATEST} of {LATEST + 4}" in panel
    assert f'href="/messages?subscriber_id={achieng}"' in panel
    assert "Old offer number 4</td>" in panel and "Old offer number 3</td>" not in panel
    # Nobody else's: not the neighbour's, not the other ISP's subscriber with the same id.
    assert "Neighbour" not in panel and "Another ISP" not in page.text

    # On the other ISP, its own subscriber's messages only.
    elsewhere = client_for(other_isp.host)
    await login(elsewhere, make_staff(other_isp.id, StaffRole.SUPPORT))
    theirs = _panel((await elsewhere.get(f"/subscribers/{stranger}")).text)
    assert "Another ISP&#39;s receipt" in theirs or "Another ISP's receipt" in theirs
    assert "Salio" not in theirs and "Old offer" not in theirs


async def test_staff_who_may_not_read_messages_see_no_panel(
    make_tenant, unit_of_work, client_for, login, make_staff
):
    isp = make_tenant("panel")
    achieng = await _subscriber(unit_of_work, isp, "Achieng Otieno", "+254711000001")
    await _messages(
        unit_of_work,
        isp,
        dict(direction="in", channel="sms", phone="+254711000001", subscriber_id=achieng,
             kind="inbound", body="Private words", status="received"),
    )  # fmt: skip
    for role, shown in (
        (StaffRole.OWNER, True),
        (StaffRole.ADMIN, True),
        (StaffRole.FINANCE, False),
        (StaffRole.TECHNICIAN, False),
    ):
        client = client_for(isp.host)
        await login(client, make_staff(isp.id, role))
        page = await client.get(f"/subscribers/{achieng}")
        assert page.status_code == 200, role
        assert bool(_panel(page.text)) is shown, role
        assert ("Private words" in page.text) is shown, role
