"""The signed-in /me pages: what they show, what they do, and bad input answered with a
clear message (never a 500); another subscriber's and another ISP's things not visible."""

from __future__ import annotations

import re

from kiunga.channels.selfservice.packages import Quote
from kiunga.platform.db.base import utcnow
from kiunga.tenants.network.radius.models import RadiusSession
from kiunga.tenants.services.models import Service
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.tickets.models import Ticket
from kiunga.tenants.tickets.service import add_message
from sqlalchemy import select

from .conftest import STAFF, form_token


async def test_the_account_page_in_both_languages(client_for, tenant, customer, sign_in):
    me = await customer()
    client = client_for(tenant.host)
    page = await sign_in(client, me.phone)
    assert me.account_number in page.text and "Active" in page.text
    assert "KES 1,500" in page.text
    swahili = await client.get("/me?lang=sw")
    assert "Inatumika" in swahili.text and "Akaunti" in swahili.text
    # Remembered in a cookie for the next page.
    assert (
        "Salio" in (await client.get("/me/usage")).text
        or "Matumizi" in (await client.get("/me/usage")).text
    )


async def test_bad_input_is_answered_with_a_message_not_an_error(
    client_for, tenant, customer, sign_in
):
    me = await customer()
    client = client_for(tenant.host)
    page = await sign_in(client, me.phone)
    token = form_token(page.text)
    for amount in ("abc", "-5", "1.5", "9" * 30, "12\x0034"):
        answer = await client.post("/me/pay", data={"amount": amount, "_ft": token})
        assert answer.status_code == 400, (amount, answer.status_code)
        assert "whole number of shillings" in answer.text, re.findall(
            r"role=.alert.>([^<]*)", answer.text
        )
    for path, data in (
        ("/me/claim", {"receipt": "nope"}),
        ("/me/quote", {"kind": "change", "package_id": "99999999"}),
        ("/me/quote", {"kind": "bogus"}),
        ("/me/confirm", {"quote": "renew:1:2:3"}),
        ("/me/devices/remove", {"service_id": "x", "mac": "zz"}),
        ("/me/tickets", {"category": "weather", "text": "hi"}),
        ("/me/tickets", {"category": "other", "text": ""}),
        ("/me/voucher", {"package_id": "12345678901234567890"}),
        ("/me/quote", {"kind": "change", "package_id": "12345678901234567890"}),
        ("/me/devices/remove", {"service_id": "12345678901234567890", "mac": "AA:BB:CC:00:11:22"}),
        ("/me/tickets/12345678901234567890/reply", {"text": "hello"}),
        ("/me/accounts", {"subscriber_id": "\x00"}),
    ):
        answer = await client.post(path, data={**data, "_ft": token})
        assert 300 <= answer.status_code < 500, (path, answer.status_code, answer.text[:300])
        # Answered by the page itself, not the app's error page.
        assert answer.status_code == 303 or 'name="_ft"' in answer.text, path
    assert (await client.get("/me/tickets/99999")).status_code == 404
    assert (await client.get("/me/tickets/123456789012345678901234")).status_code in (400, 404)
    assert (await client.get("/me/tickets/abc")).status_code in (400, 404)
    assert (await client.get("/me/devices/remove?service_id=1&mac=AA")).status_code == 404
    # Signed out, a page asks for the phone again (no error).
    assert 'name="phone"' in (await client_for(tenant.host, "127.0.0.9").get("/me/pay")).text


async def test_every_form_with_a_stale_or_foreign_token_is_shown_again_and_nothing_done(
    client_for, tenant, customer, sign_in, unit_of_work
):
    me = await customer()
    client = client_for(tenant.host)
    page = await sign_in(client, me.phone)
    opened = await client.post(
        "/me/tickets",
        data={"category": "billing", "text": "Where is my money", "_ft": form_token(page.text)},
    )
    assert opened.status_code == 200
    async with unit_of_work() as session:
        ticket = await session.scalar(
            select(Ticket).where(Ticket.subscriber_id == me.subscriber_id)
        )
    # Another browser's token (its own nonce cookie), a token of long ago, and none.
    elsewhere = await client_for(tenant.host, "127.0.0.9").get("/me")
    tokens = ({"_ft": form_token(elsewhere.text)}, {"_ft": "1.0123456789abcdef"}, {})
    # Each form, what it posts, and what it types back when shown again.
    forms = (
        ("/me/pay", {"amount": "777", "phone": "0712000111"}, "777"),
        ("/me/claim", {"receipt": "QKJ3X7Y8Z9", "amount": "5"}, "QKJ3X7Y8Z9"),
        ("/me/quote", {"kind": "renew"}, None),
        ("/me/confirm", {"quote": "renew:1:2:3"}, None),
        ("/me/voucher", {"package_id": "1"}, None),
        (
            "/me/devices/remove",
            {"service_id": str(me.service_id), "mac": "AA:BB:CC:00:11:22"},
            None,
        ),
        ("/me/tickets", {"category": "other", "text": "A second problem"}, "A second problem"),
        (f"/me/tickets/{ticket.number}/reply", {"text": "Any news?"}, "Any news?"),
    )
    for path, data, typed in forms:
        for token in tokens:
            answer = await client.post(path, data={**data, **token})
            assert answer.status_code == 400, (path, token, answer.status_code)
            assert "This page was open too long" in answer.text, path
            assert 'name="_ft"' in answer.text, path  # the page itself, a fresh token on it
            if typed:
                assert typed in answer.text, path
    async with unit_of_work() as session:
        tickets = list(
            await session.scalars(select(Ticket).where(Ticket.subscriber_id == me.subscriber_id))
        )
    assert [t.id for t in tickets] == [ticket.id]
    thread = await client.get(f"/me/tickets/{ticket.number}")
    assert "Any news?" not in thread.text
    # Signed out, a form posted to a signed-in page is answered with the sign-in page.
    stranger = client_for(tenant.host, "127.0.0.9")
    start = await stranger.get("/me")
    answer = await stranger.post("/me/pay", data={"amount": "777", "_ft": form_token(start.text)})
    assert answer.status_code == 200 and 'name="phone"' in answer.text


async def test_renewing_from_the_balance_through_quote_and_confirm(
    client_for, tenant, customer, sign_in, unit_of_work
):
    me = await customer()
    from kiunga.tenants.billing.payments import record_payment

    async with unit_of_work() as session:
        await record_payment(
            session,
            me.subscriber_id,
            150_000,
            method="mpesa",
            reference="QRENEW0001",
            received_at=utcnow(),
            actor=STAFF,
        )
        before = (await session.get(Service, me.service_id)).expires_at
    client = client_for(tenant.host)
    page = await sign_in(client, me.phone)
    buy = await client.get("/me/buy")
    assert "Renew now" in buy.text
    quoted = await client.post("/me/quote", data={"kind": "renew", "_ft": form_token(buy.text)})
    assert quoted.status_code == 200 and "Please confirm" in quoted.text
    quote_token = re.search(r'name="quote" value="([^"]+)"', quoted.text).group(1)
    done = await client.post(
        "/me/confirm", data={"quote": quote_token, "_ft": form_token(page.text)}
    )
    assert done.status_code == 200 and "Done" in done.text
    again = await client.post(
        "/me/confirm", data={"quote": quote_token, "_ft": form_token(page.text)}
    )
    assert again.status_code == 409
    async with unit_of_work() as session:
        after = (await session.get(Service, me.service_id)).expires_at
    assert after > before
    assert Quote  # the token is the service layer's


async def test_tickets_opened_read_and_replied(client_for, tenant, customer, sign_in, unit_of_work):
    me = await customer()
    client = client_for(tenant.host)
    page = await sign_in(client, me.phone)
    opened = await client.post(
        "/me/tickets",
        data={
            "category": "connectivity",
            "text": "Hakuna mtandao 😞 tangu jana",
            "_ft": form_token(page.text),
        },
    )
    assert opened.status_code == 200 and "TKT-" in opened.text
    async with unit_of_work() as session:
        ticket = await session.scalar(
            select(Ticket).where(Ticket.subscriber_id == me.subscriber_id)
        )
        await add_message(session, ticket.id, body="We are looking into it", actor=STAFF)
    thread = await client.get(f"/me/tickets/{ticket.number}")
    assert "We are looking into it" in thread.text and "Hakuna mtandao 😞" in thread.text
    replied = await client.post(
        f"/me/tickets/{ticket.number}/reply", data={"text": "Asante", "_ft": form_token(page.text)}
    )
    assert replied.status_code == 200 and "Asante" in replied.text
    # The sign-in SMS is in the message log.
    assert "sign-in code" in (await client.get("/me/messages")).text


async def test_devices_removed_after_confirmation(
    client_for, tenant, customer, sign_in, unit_of_work, add_package
):
    me = await customer()
    hotspot = await add_package(service_type="hotspot", price=0, validity_unit="day")
    async with unit_of_work() as session:
        service = await create_service(
            session,
            NewService(
                subscriber_id=me.subscriber_id,
                package_id=hotspot,
                username="achieng-hs",
                password="pass-word-1",
                mac_address="AA:BB:CC:00:11:22",
            ),
            actor=STAFF,
        )
        now = utcnow()
        session.add(
            RadiusSession(
                acct_session_id="81000001",
                username="achieng-hs",
                service_id=service.id,
                calling_station_id="AA:BB:CC:00:11:22",
                started_at=now,
                updated_at=now,
            )
        )
        service_id = service.id
    client = client_for(tenant.host)
    page = await sign_in(client, me.phone)
    listed = await client.get("/me/devices")
    assert "AA:BB:CC:00:11:22" in listed.text
    confirm = await client.get(f"/me/devices/remove?service_id={service_id}&mac=AA:BB:CC:00:11:22")
    assert confirm.status_code == 200 and "Remove device AA:BB:CC:00:11:22?" in confirm.text
    removed = await client.post(
        "/me/devices/remove",
        data={
            "service_id": str(service_id),
            "mac": "AA:BB:CC:00:11:22",
            "_ft": form_token(page.text),
        },
    )
    assert removed.status_code == 200 and "removed" in removed.text
    async with unit_of_work() as session:
        assert (await session.get(Service, service_id)).mac_address is None


async def test_other_subscribers_and_other_isps_are_not_visible(
    client_for, tenant, make_tenant, customer, sign_in, unit_of_work
):
    other_isp = make_tenant("elsewh")
    me = await customer("+254712345678")
    neighbour = await customer("+254712345699", name="Neighbour")
    twin = await customer("+254712345678", schema=other_isp, name="Twin Elsewhere")
    async with unit_of_work() as session:
        from kiunga.channels.selfservice.tickets import report_problem

        theirs = await report_problem(
            session,
            subscriber_id=neighbour.subscriber_id,
            phone=neighbour.phone,
            category="billing",
            text="Private matter",
            channel="web",
        )
    client = client_for(tenant.host)
    page = await sign_in(client, me.phone)
    assert "Twin Elsewhere" not in page.text and twin.account_number not in page.text
    hidden = await client.get(f"/me/tickets/{theirs.number}")
    assert hidden.status_code == 404 and "Private matter" not in hidden.text
    # The session cookie means nothing on another ISP's host.
    cookie = client.cookies.get("kiunga_me")
    elsewhere = client_for(other_isp.host)
    elsewhere.cookies.set("kiunga_me", cookie, domain=other_isp.host)
    answer = await elsewhere.get("/me")
    assert 'name="phone"' in answer.text and twin.account_number not in answer.text


async def test_a_phone_on_two_accounts_chooses_one(client_for, tenant, customer, sign_in):
    home = await customer("+254712345600", name="Home line")
    shop = await customer("+254712345600", name="Shop line")
    client = client_for(tenant.host)
    page = await sign_in(client, home.phone)
    assert "Choose an account" in page.text and "Shop line" in page.text
    chosen = await client.post(
        "/me/accounts",
        data={"subscriber_id": str(shop.subscriber_id), "_ft": form_token(page.text)},
    )
    assert chosen.status_code == 303
    account = await client.get("/me")
    assert shop.account_number in account.text and "Another account" in account.text


async def test_over_https_the_cookies_are_secure_and_the_code_comes_in_swahili(
    app, tenant, customer, unit_of_work
):
    import httpx

    from .conftest import last_code

    me = await customer()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=f"https://{tenant.host}") as client:
        start = await client.get("/me?lang=sw")
        assert "Ingia" in start.text
        assert all("Secure" in c for c in start.headers.get_list("set-cookie"))
        asked = await client.post(
            "/me/code", data={"phone": me.phone, "_ft": form_token(start.text)}
        )
        code = await last_code(unit_of_work, me.phone)
        async with unit_of_work() as session:
            from kiunga.channels.messages.models import Message

            body = await session.scalar(select(Message.body).where(Message.kind == "sign_in_code"))
        assert body.startswith(f"{code} ni namba yako ya kuingia")
        signed = await client.post(
            "/me/verify", data={"phone": me.phone, "code": code, "_ft": form_token(asked.text)}
        )
        session_cookie = next(
            c for c in signed.headers.get_list("set-cookie") if c.startswith("kiunga_me=")
        )
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie


async def test_without_redis_the_pages_answer_politely(settings, database_url, tenant):
    import httpx
    from kiunga.platform.web.app import create_app

    from fixtures.served import free_port

    # Nothing listens there: every Redis call fails to connect.
    app = create_app(settings, database_url, f"redis://127.0.0.1:{free_port()}/0")
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(
            transport=transport, base_url=f"http://{tenant.host}"
        ) as client:
            start = await client.get("/me")
            assert start.status_code == 200
            asked = await client.post(
                "/me/code", data={"phone": "0712345678", "_ft": form_token(start.text)}
            )
            assert asked.status_code == 503 and "Something went wrong" in asked.text
            client.cookies.set("kiunga_me", "some-session-token", domain=tenant.host)
            answer = await client.get("/me")
            assert answer.status_code == 503 and "Something went wrong" in answer.text
    finally:
        await app.services.close()
