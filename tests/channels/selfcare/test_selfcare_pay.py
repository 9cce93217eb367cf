"""Paying from /me against the Daraja emulator, over real HTTP: the prompt is sent, the
emulator pays and calls back, the money is on the account and the service runs again."""

from __future__ import annotations

import httpx
import pytest
from kiunga.tenants.billing.models import Payment
from kiunga.tenants.mpesa.config import rotate_callback_token
from kiunga.tenants.services.models import Service, ServiceStatus
from sqlalchemy import select

from .conftest import form_token
from fixtures.mpesa import use_daraja_app
from fixtures.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
async def mpesa_ready(daraja, daraja_app, tenant, unit_of_work):
    app = await daraja_app("Selfcare ISP")
    async with unit_of_work() as session:
        await use_daraja_app(session, daraja, app)
        await rotate_callback_token(session, tenant.id)
    return app


async def test_paying_the_amount_due_restores_the_service(
    kiunga, mpesa_ready, tenant, customer, sign_in, unit_of_work
):
    me = await customer(price=150_000, paid=False)
    async with httpx.AsyncClient(base_url=kiunga.url, headers={"host": tenant.host}) as http:
        await sign_in(http, me.phone)
        form = await http.get("/me/pay")
        assert 'value="1500"' in form.text and mpesa_ready["shortcode"] in form.text
        sent = await http.post(
            "/me/pay", data={"amount": "1,500", "phone": me.phone, "_ft": form_token(form.text)}
        )
        assert sent.status_code == 200 and "0712***678" in sent.text

    async def paid():
        async with unit_of_work() as session:
            return await session.scalar(
                select(Payment).where(Payment.subscriber_id == me.subscriber_id)
            )

    payment = await eventually(paid)
    assert payment.amount == 150_000
    async with unit_of_work() as session:
        assert (await session.get(Service, me.service_id)).status is ServiceStatus.ACTIVE


async def test_prompts_are_limited_per_phone(kiunga, mpesa_ready, tenant, customer, sign_in):
    me = await customer(price=150_000, paid=False)
    async with httpx.AsyncClient(base_url=kiunga.url, headers={"host": tenant.host}) as http:
        page = await sign_in(http, me.phone)
        token = form_token(page.text)
        answers = [
            (await http.post("/me/pay", data={"amount": "100", "_ft": token})).status_code
            for _ in range(4)
        ]
    assert answers == [200, 200, 200, 429]
