"""Issue 14's demo story on the Phone page in Chromium, against Kiunga's real hook routes, a
real worker (every area's jobs, as `kiunga worker` runs them) and the emulators, on an ISP
seeded as `kiunga up` seeds the demo one: the lapsed subscriber dials the ISP's code, pays
through the menu and gets the END screen; only then does the STK push reach the Daraja
emulator, whose customer accepts; the service is active again and the receipt SMS, sent
through the outbound queue to the Africa's Talking emulator, shows in the phone's inbox."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from kiunga.channels.messages.models import ChannelCallback, Message
from kiunga.integrations.africastalking.emulator import DEMO_USERNAME
from kiunga.tenants.billing.models import Payment, PaymentMethod
from kiunga.tenants.mpesa.demo import DEMO_ACCOUNT, DEMO_PHONE
from kiunga.tenants.mpesa.models import MpesaRequest, RequestStatus
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import select

from .conftest import OWNER_PASSWORD, every_areas_jobs
from fixtures.waiting import eventually

pytestmark = pytest.mark.slow

BUSY_WORKER_SECONDS = 120


async def _demo_service(unit_of_work, tenant) -> Service:
    async with unit_of_work(tenant.schema) as session:
        return await session.scalar(
            select(Service)
            .join(Subscriber, Subscriber.id == Service.subscriber_id)
            .where(Subscriber.account_number == DEMO_ACCOUNT)
        )


async def _screen(page) -> str:
    return await page.locator("#ussd-screen pre").inner_text()


async def _answer(page, typed: str, expected: str) -> str:
    """Type `typed` into the open session and wait for the screen that says `expected`."""
    await page.fill("form[action='/phone/ussd/reply'] input[name=input]", typed)
    await page.click("form[action='/phone/ussd/reply'] button")
    await page.locator("#ussd-screen pre", has_text=expected).wait_for()
    return await _screen(page)


async def test_the_lapsed_subscriber_pays_by_ussd_and_gets_the_receipt_by_sms(
    phone, real_kiunga, demo_isp, daraja, at_emulator, start_worker, unit_of_work
):
    tenant, seeded = demo_isp
    assert (await _demo_service(unit_of_work, tenant)).status is ServiceStatus.EXPIRED
    async with httpx.AsyncClient(timeout=30) as http:
        # The customer at the Daraja emulator accepts the prompt (enters the PIN).
        chosen = await http.post(
            f"{daraja.url}/emulator/stk/outcomes",
            json={"phone": DEMO_PHONE, "outcome": "success"},
        )
        assert chosen.status_code == 200, chosen.text
    await start_worker(every_areas_jobs, "demo-story")

    origin = f"http://{tenant.host}:{real_kiunga.url.rsplit(':', 1)[1]}"
    await phone.goto(origin + "/login")
    await phone.fill("input[name=email]", tenant.owner_email)
    await phone.fill("input[name=password]", OWNER_PASSWORD)
    await phone.click("button[type=submit]")
    await phone.wait_for_url(origin + "/")

    # The page starts as the demo's lapsed subscriber, the ISP's code ready to dial.
    await phone.goto(origin + "/phone")
    assert await phone.input_value("form[action='/phone/ussd/dial'] input[name=phone]") == (
        DEMO_PHONE
    )
    code = phone.locator("form[action='/phone/ussd/dial'] input[name=code]")
    assert await code.input_value() == seeded.ussd_code
    await phone.click("form[action='/phone/ussd/dial'] button")
    await phone.locator("#ussd-screen pre", has_text="2. Pay").wait_for()
    assert "1. My account" in await _screen(phone)

    await _answer(phone, "2", "1. Pay KES 1,000")
    await _answer(phone, "1", "Pay KES 1,000 for")
    end = await _answer(phone, "1", "You will get an M-Pesa prompt")
    await phone.locator("#ussd-ended").wait_for()
    assert "Paybill 174379, account DEMO1" in end
    marker = await phone.evaluate("window.__kiunga_marker = Math.random()")

    # The STK push reaches Daraja after the END screen was answered, once.
    async def paid() -> MpesaRequest | None:
        async with unit_of_work(tenant.schema) as session:
            request = await session.scalar(select(MpesaRequest))
            return request if request and request.status is RequestStatus.PAID else None

    # The worker serves every ISP of the run's shared database (other test files' hundreds,
    # with their periodic jobs at each minute and their leftover events): at a busy minute
    # this ISP's push waits its turn behind them, as on a busy `kiunga worker`.
    request = await eventually(paid, within=BUSY_WORKER_SECONDS)
    assert request.amount == 100_000 and request.phone == DEMO_PHONE
    async with unit_of_work(tenant.schema) as session:
        hops = list(
            await session.scalars(
                select(ChannelCallback)
                .where(ChannelCallback.kind == "africastalking.ussd")
                .order_by(ChannelCallback.id)
            )
        )
    assert len(hops) == 4 and hops[-1].answer.startswith("END ")
    async with httpx.AsyncClient(timeout=30) as http:
        log = (await http.get(f"{daraja.url}/emulator/log?kind=stk_push&direction=in")).json()
    # (The emulator is shared: other ISPs' pushes are logged too, some answered with an
    # error text rather than Daraja's JSON.)
    [push] = [
        entry
        for entry in log
        if isinstance(entry.get("response"), dict)
        and entry["response"].get("CheckoutRequestID") == request.checkout_request_id
    ]
    # (The END hop's transaction stored its answer; the push came after it.)
    assert hops[-1].processed_at is not None
    assert datetime.fromisoformat(push["at"]) > hops[-1].processed_at

    # The service is back.
    async def active() -> bool:
        return (await _demo_service(unit_of_work, tenant)).status is ServiceStatus.ACTIVE

    await eventually(active, within=BUSY_WORKER_SECONDS)

    # The receipt, through the outbound queue to AT, shows on the open page by itself.
    async with unit_of_work(tenant.schema) as session:
        payment = await session.scalar(select(Payment).where(Payment.reference == request.receipt))
    assert payment.method is PaymentMethod.MPESA and payment.amount == 100_000
    # The M-Pesa receipt code the subscriber knows from their own M-Pesa SMS.
    receipt = f"we received KES 1,000.00, receipt {payment.reference}."
    await phone.locator("#inbox", has_text=receipt).wait_for(timeout=60_000)
    assert await phone.evaluate("window.__kiunga_marker") == marker  # not reloaded by hand
    async with httpx.AsyncClient(timeout=30) as http:
        outbox = (
            await http.get(f"{at_emulator.url}/emulator/sms/outbox", params={"phone": DEMO_PHONE})
        ).json()
    receipts = [
        sms for sms in outbox if sms["username"] == DEMO_USERNAME and receipt in sms["message"]
    ]
    assert len(receipts) == 1, receipts
    async with unit_of_work(tenant.schema) as session:
        logged = list(await session.scalars(select(Message).where(Message.body.contains(receipt))))
    assert len(logged) == 1 and logged[0].phone == DEMO_PHONE
