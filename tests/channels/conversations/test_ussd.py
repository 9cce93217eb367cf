"""USSD through Africa's Talking, in its exact form encoding, over HTTP: the account and
pay flows (the STK push only after the END screen, through a real worker, against the
Daraja emulator, the service restored by its callback), retries answered once, nonsense
and over-long input, the shared code's extension, other networks, and unknown codes,
numbers and tokens that store nothing anywhere."""

from __future__ import annotations

import time

import httpx
import pytest
from kiunga.channels.conversations import actions
from kiunga.channels.messages.models import ChannelCallback, ChannelContact
from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.mpesa.models import MpesaRequest, RequestStatus
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.subscribers.models import Subscriber, SubscriberPhone, SubscriberStatus
from kiunga.tenants.tickets.models import Channel, Ticket
from sqlalchemy import func, select

from .conftest import SHARED_TOKEN, UssdSession
from fixtures.waiting import eventually

pytestmark = pytest.mark.slow


async def _count(session, model, *where) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(*where))


async def test_a_lapsed_subscriber_pays_over_ussd_and_is_back_online(
    kiunga, daraja, mpesa_ready, channel_isp, customer, start_worker, unit_of_work
):
    isp = await channel_isp()
    me = await customer(lapsed=True)
    await start_worker(lambda jobs: jobs.add(actions.schedule_later, actions.run_later), "ussd")
    async with httpx.AsyncClient(base_url=kiunga.url, timeout=30) as http:
        phone = UssdSession(http, f"/hooks/channels/{isp.token}/ussd", isp.service_code, me.phone)
        home = await phone.dial()
        assert home.startswith("CON ") and "1. My account" in home and "2. Pay" in home
        account = await phone.send("1")
        assert "Expired" in account and me.account_number in account
        assert "Last paid KES 1,500" in account and "0 Back 00 Home" in account
        assert await phone.send("0") == home
        pay = await phone.send("2")
        assert "1. Pay KES 1,500" in pay
        confirm = await phone.send("1")
        assert confirm.startswith("CON Pay KES 1,500 for ") and "0712345678" in confirm
        end = await phone.send("1")
        ended_at = time.monotonic()
        assert end.startswith("END You will get an M-Pesa prompt for KES 1,500.")
        assert f"Paybill {mpesa_ready}, account {me.account_number}" in end
        # Nothing is sent while the session may still be open on the phone.
        async with unit_of_work() as session:
            sent_already = await _count(session, MpesaRequest)
        if time.monotonic() - ended_at < actions.USSD_DELAY_SECONDS - 0.5:
            assert sent_already == 0
        # Africa's Talking did not get the answer and asks again: the same END, once.
        assert await phone.post(phone.form()) == end

    async def paid() -> bool:
        async with unit_of_work() as session:
            request = await session.scalar(select(MpesaRequest))
            return request is not None and request.status is RequestStatus.PAID

    await eventually(paid)
    async with unit_of_work() as session:
        request = await session.scalar(select(MpesaRequest))
        assert await _count(session, MpesaRequest) == 1
        assert request.subscriber_id == me.subscriber_id and request.amount == 150_000
        assert request.phone == me.phone and request.requested_by == f"ussd:{me.phone}"
        assert request.account_reference == me.account_number
        service = await session.get(Service, me.service_id)
        assert service.status is ServiceStatus.ACTIVE
        hops = await _count(session, ChannelCallback, ChannelCallback.kind == "africastalking.ussd")
        assert hops == 6
        claims = await session.scalars(
            select(ChannelCallback).where(ChannelCallback.kind == actions.CLAIM_KIND)
        )
        assert [claim.answer for claim in claims] == [f"mpesa request {request.id}"]


async def test_back_home_nonsense_over_long_input_and_emoji(channel_isp, customer, dial):
    isp = await channel_isp()
    me = await customer()
    phone = dial(isp, me.phone)
    home = await phone.dial()
    for nonsense in ("7x", "😀", "1" * 150, "", "99", "-1", "Ω"):
        again = await phone.send(nonsense)
        assert again.startswith("CON Choose a number from the list.\n"), again
        assert again.endswith(home.split("\n", 1)[1].rsplit("\n", 1)[-1])
    await phone.send("2")
    amount = await phone.send("2")
    assert "Amount to pay in shillings:" in amount
    hinted = await phone.send("lots")
    assert hinted.startswith("CON Type an amount in shillings, e.g. 500.\n")
    confirm = await phone.send("750")
    assert "Pay KES 750 for" in confirm
    assert "Amount to pay" in await phone.send("0")
    assert await phone.send("00") == home
    # More than Africa's Talking ever sends: refused politely, nothing run.
    too_long = {**phone.form(), "text": "1*" * 400}
    assert (await phone.post(too_long)).startswith("END Sorry")


async def test_the_menu_in_swahili_and_the_language_switch(channel_isp, customer, dial):
    isp = await channel_isp()
    me = await customer(language="sw")
    phone = dial(isp, me.phone)
    home = await phone.dial()
    assert "1. Akaunti yangu" in home and "2. Lipa" in home
    assert "0 Nyuma 00 Mwanzo" in await phone.send("1")
    await phone.send("00")
    await phone.send("98")
    settings = await phone.send("9")
    assert "1. Lugha" in settings
    await phone.send("1")
    english = await phone.send("1")
    assert english.startswith("CON Language set to English.\n") and "1. My account" in english


async def test_report_a_problem_and_see_the_ticket(channel_isp, customer, dial, unit_of_work):
    isp = await channel_isp()
    me = await customer()
    phone = dial(isp, me.phone)
    await phone.dial()
    categories = await phone.send("5")
    assert "1. No internet/slow" in categories
    await phone.send("1")
    done = await phone.send("Router lights off since morning")
    assert done.startswith("END Ticket TKT-") and "We will reply by SMS." in done
    async with unit_of_work() as session:
        ticket = await session.scalar(select(Ticket))
        assert ticket.subscriber_id == me.subscriber_id and ticket.channel is Channel.USSD
        assert ticket.category.value == "connectivity"
    again = dial(isp, me.phone)
    await again.dial()
    listed = await again.send("6")
    assert f"{ticket.reference} open" in listed


async def test_an_unknown_number_registers_interest(channel_isp, dial, unit_of_work):
    isp = await channel_isp()
    phone = dial(isp, "+254733000111")
    home = await phone.dial()
    assert home.startswith("CON Welcome to ") and "1. Get connected" in home
    assert "Your name" in await phone.send("1")
    assert "Where are you" in await phone.send("Wanjiru Kamau")
    done = await phone.send("Kawangware, near the market")
    assert done.startswith("END Thank you Wanjiru.")
    async with unit_of_work() as session:
        lead = await session.scalar(
            select(Subscriber)
            .join(SubscriberPhone, SubscriberPhone.subscriber_id == Subscriber.id)
            .where(SubscriberPhone.phone == "+254733000111")
        )
        assert lead.status is SubscriberStatus.LEAD and lead.name == "Wanjiru Kamau"
        assert lead.account_number in done


async def test_a_phone_on_two_accounts_chooses_one_first(channel_isp, customer, dial, unit_of_work):
    isp = await channel_isp()
    first = await customer(name="Baraka Mwangi")
    second = await customer(name="Neema Mwangi", service=False)
    phone = dial(isp, first.phone)
    asked = await phone.dial()
    assert asked.startswith("CON Which account?")
    assert f"2. {second.account_number} Neema Mwangi" in asked
    home = await phone.send("2")
    assert "Neema" in home and "1. My account" in home
    async with unit_of_work() as session:
        contact = await session.get(ChannelContact, first.phone)
        assert contact.chosen_subscriber_id == second.subscriber_id
    # Remembered: the next session starts at the chosen account's menu.
    assert "Neema" in await dial(isp, first.phone).dial()


async def test_other_networks_are_offered_the_ways_they_can_pay(
    mpesa_ready, channel_isp, customer, dial, unit_of_work
):
    isp = await channel_isp()
    me = await customer(lapsed=True)
    airtel = dial(isp, me.phone, network="63903")
    await airtel.dial()
    offered = await airtel.send("2")
    assert "Safaricom lines only" in offered and "2. Ask someone with M-Pesa" in offered
    told = await airtel.send("2")
    assert told.startswith("END Ask them to pay Paybill") and me.account_number in told
    telkom = dial(isp, me.phone, network="63907")
    await telkom.dial()
    assert "agent" in (await telkom.send("3")).lower()
    async with unit_of_work() as session:
        assert await _count(session, OutboxEvent, OutboxEvent.topic == actions.TOPIC) == 0


async def test_a_session_ended_early_leaves_nothing_done(
    mpesa_ready, channel_isp, customer, dial, unit_of_work
):
    isp = await channel_isp()
    me = await customer(lapsed=True)
    phone = dial(isp, me.phone)
    await phone.dial()
    await phone.send("2")
    await phone.send("1")  # the confirmation screen; then the network drops the session
    async with unit_of_work() as session:
        assert await _count(session, OutboxEvent, OutboxEvent.topic == actions.TOPIC) == 0
        assert await _count(session, MpesaRequest) == 0


async def test_unknown_codes_numbers_and_tokens_store_nothing(
    channel_isp, make_tenant, customer, dial, hooks_client, unit_of_work
):
    isp = await channel_isp()
    other = await channel_isp(make_tenant("other"))
    await customer()
    polite = "END Sorry, this service is not available.\nSamahani, huduma hii haipatikani."
    mine, nobodys = f"/hooks/channels/{isp.token}/ussd", "/hooks/channels/not-a-token/ussd"
    for path, code, number in (
        (mine, "*999*1#", "+254712345678"),
        (mine, other.service_code, "+254712345678"),  # another ISP's code on this ISP's path
        (nobodys, isp.service_code, "+254712345678"),
        (mine, isp.service_code, "hello"),
    ):
        assert await UssdSession(hooks_client, path, code, number).dial() == polite
    broken = await hooks_client.post(
        f"/hooks/channels/{isp.token}/ussd",
        content=b"sessionId=a%00b&text=",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert broken.status_code == 200 and broken.text == polite
    for where in (isp, other):
        async with unit_of_work(where.schema) as session:
            assert await _count(session, ChannelCallback) == 0


async def test_a_shared_code_finds_the_isp_by_its_extension(
    shared_app, client_for, channel_isp, customer, hooks_client
):
    isp = await channel_isp(shared=True)
    me = await customer()
    shared = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=shared_app), base_url="http://hooks.example"
    )
    async with shared:
        phone = UssdSession(
            shared, f"/hooks/ussd/{SHARED_TOKEN}/ussd", isp.shared_code, me.phone,
            prefix=[isp.extension],
        )  # fmt: skip
        home = await phone.dial()
        assert "1. My account" in home
        assert me.account_number in await phone.send("1")
        wrong = await shared.post(f"/hooks/ussd/{SHARED_TOKEN}x/ussd", data=phone.form())
        assert wrong.status_code == 404
        stranger = UssdSession(
            shared, f"/hooks/ussd/{SHARED_TOKEN}/ussd", isp.shared_code, me.phone, prefix=["1"]
        )
        assert (await stranger.dial()).startswith("END Sorry")
    # Without a shared token configured the path does not exist.
    off = await hooks_client.post(f"/hooks/ussd/{SHARED_TOKEN}/ussd", data=phone.form())
    assert off.status_code == 404
    # The ISP's own path takes its shared code and extension too.
    own_path = UssdSession(
        hooks_client, f"/hooks/channels/{isp.token}/ussd", isp.shared_code, me.phone,
        prefix=[isp.extension],
    )  # fmt: skip
    assert "1. My account" in await own_path.dial()


async def test_a_retried_hop_is_answered_the_same_and_runs_once(
    channel_isp, customer, dial, unit_of_work
):
    isp = await channel_isp()
    me = await customer()
    phone = dial(isp, me.phone)
    await phone.dial()
    await phone.send("5")
    await phone.send("2")
    done = await phone.send("1")  # skip the description: the ticket is opened
    assert done.startswith("END Ticket TKT-")
    for _ in range(3):
        assert await phone.post(phone.form()) == done
    async with unit_of_work() as session:
        assert await _count(session, Ticket) == 1


async def test_renew_from_the_balance_after_seeing_the_price(
    channel_isp, customer, dial, unit_of_work
):
    isp = await channel_isp()
    me = await customer()
    async with unit_of_work() as session:
        await record_payment(
            session, me.subscriber_id, 150_000, method="mpesa", reference="RENEW00001",
            received_at=utcnow(), actor=Actor.system("mpesa"),
        )  # fmt: skip
        before = (await session.get(Service, me.service_id)).expires_at
    phone = dial(isp, me.phone)
    await phone.dial()
    assert "1. Renew now" in await phone.send("4")
    quote = await phone.send("1")
    assert quote.startswith("CON Renew Home ") and "KES 1,500" in quote and "1. Confirm" in quote
    async with unit_of_work() as session:
        assert (await session.get(Service, me.service_id)).expires_at == before
    done = await phone.send("1")
    assert done.startswith("END Renewed.")
    async with unit_of_work() as session:
        assert (await session.get(Service, me.service_id)).expires_at > before


async def test_renewal_without_the_money_offers_to_pay_first(
    mpesa_ready, channel_isp, customer, dial, unit_of_work
):
    isp = await channel_isp()
    me = await customer()
    phone = dial(isp, me.phone)
    await phone.dial()
    await phone.send("4")
    quote = await phone.send("1")
    assert "Pay KES 1,500 first" in quote and "1. Pay KES 1,500 now" in quote
    assert "Pay KES 1,500 for" in await phone.send("1")
    assert (await phone.send("1")).startswith("END You will get an M-Pesa prompt")
    async with unit_of_work() as session:
        assert await _count(session, OutboxEvent, OutboxEvent.topic == actions.TOPIC) == 1


async def test_change_package_shows_the_proration_before_it_happens(
    channel_isp, customer, add_package, dial, unit_of_work
):
    isp = await channel_isp()
    me = await customer()
    cheaper = await add_package(name="Lite 3", price=100_000)
    phone = dial(isp, me.phone)
    await phone.dial()
    await phone.send("4")
    listed = await phone.send("2")
    assert "1. Lite 3 KES 1,000" in listed
    quote = await phone.send("1")
    assert quote.startswith("CON Lite 3: KES") and "credit KES" in quote
    async with unit_of_work() as session:
        assert (await session.get(Service, me.service_id)).package_id == me.package_id
    done = await phone.send("1")
    assert done.startswith("END Changed to Lite 3.")
    async with unit_of_work() as session:
        assert (await session.get(Service, me.service_id)).package_id == cheaper


async def test_buy_a_voucher_over_ussd_asks_for_the_prompt_after_the_session(
    channel_isp, add_package, dial, unit_of_work
):
    isp = await channel_isp()
    package_id = await add_package(
        service_type="hotspot", price=2_000, validity_unit="hour", sold_on_portal=True,
        name="One hour", name_sw="Saa moja",
    )  # fmt: skip
    phone = dial(isp, "+254722111222")
    await phone.dial()
    assert "1. One hour KES 20" in await phone.send("2")
    assert "The code comes by SMS" in await phone.send("1")
    end = await phone.send("1")
    assert end.startswith("END You will get an M-Pesa prompt for KES 20.")
    async with unit_of_work() as session:
        events = list(
            await session.scalars(select(OutboxEvent).where(OutboxEvent.topic == actions.TOPIC))
        )
    assert [(e.payload["kind"], e.payload["facts"]["package_id"]) for e in events] == [
        ("voucher", package_id)
    ]
    assert events[0].payload["channel"] == "ussd"


async def test_i_already_paid_checks_the_code_and_never_guesses(
    channel_isp, customer, dial, unit_of_work
):
    isp = await channel_isp()
    me = await customer()
    phone = dial(isp, me.phone)
    await phone.dial()
    await phone.send("8")
    hinted = await phone.send("my money")
    assert hinted.startswith("CON Type the M-Pesa code, e.g. QKJ3X7Y8Z9.")
    end = await phone.send("qkj3x7y8z9")
    assert end.startswith("END Payment QKJ3X7Y8Z9 has not reached us yet.")


async def test_talk_to_a_person_opens_one_ticket(channel_isp, customer, dial, unit_of_work):
    isp = await channel_isp()
    me = await customer()
    for _ in range(2):
        phone = dial(isp, me.phone)
        await phone.dial()
        assert (await phone.send("7")).startswith("END A person will reply to you by SMS soon.")
    async with unit_of_work() as session:
        assert await _count(session, Ticket) == 1
