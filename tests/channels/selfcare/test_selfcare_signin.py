"""Signing in to /me with a code by SMS, over real HTTP (the app served by uvicorn)."""

from __future__ import annotations

import httpx
import pytest
from kiunga.channels.messages.models import Message, MessageChannel
from sqlalchemy import func, select

from .conftest import form_token, last_code


@pytest.fixture
async def http(kiunga, tenant):
    """A browser-like client of the served app, speaking to the ISP's host."""
    async with httpx.AsyncClient(base_url=kiunga.url, headers={"host": tenant.host}) as client:
        yield client


async def _count_codes(unit_of_work, phone: str) -> int:
    async with unit_of_work() as session:
        return await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.phone == phone, Message.kind == "sign_in_code")
        )


async def test_a_subscriber_signs_in_with_the_code_sent_by_sms(http, customer, unit_of_work):
    me = await customer("+254712345678")
    first = await http.get("/me")
    assert first.status_code == 200 and 'name="phone"' in first.text
    assert "<script" not in first.text
    asked = await http.post(
        "/me/code", data={"phone": "0712 345 678", "_ft": form_token(first.text)}
    )
    assert asked.status_code == 200 and "0712***678" in asked.text
    async with unit_of_work() as session:
        sms = await session.scalar(select(Message).where(Message.kind == "sign_in_code"))
        assert sms.channel is MessageChannel.SMS and sms.urgent
        assert sms.phone == me.phone and sms.subscriber_id == me.subscriber_id
    code = await last_code(unit_of_work, me.phone)

    wrong = "000000" if code != "000000" else "111111"
    refused = await http.post(
        "/me/verify", data={"phone": me.phone, "code": wrong, "_ft": form_token(asked.text)}
    )
    assert refused.status_code == 400 and "not right" in refused.text
    signed = await http.post(
        "/me/verify", data={"phone": me.phone, "code": code, "_ft": form_token(asked.text)}
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/me"
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("kiunga_me="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Path=/me" in cookie

    page = await http.get("/me")
    assert page.status_code == 200 and me.account_number in page.text
    # A code works once.
    again = await http.post(
        "/me/verify", data={"phone": me.phone, "code": code, "_ft": form_token(page.text)}
    )
    assert again.status_code == 400

    out = await http.post("/me/signout", data={"_ft": form_token(page.text)})
    assert out.status_code == 303
    assert me.account_number not in (await http.get("/me")).text


async def test_an_unknown_number_gets_the_same_answer_and_no_sms(http, unit_of_work, customer):
    await customer("+254712345678")
    start = await http.get("/me")
    answer = await http.post(
        "/me/code", data={"phone": "0799 000 111", "_ft": form_token(start.text)}
    )
    assert answer.status_code == 200 and "0799***111" in answer.text
    assert await _count_codes(unit_of_work, "+254799000111") == 0


async def test_codes_are_rate_limited_per_phone_and_guesses_use_a_code_up(
    http, customer, unit_of_work
):
    me = await customer("+254712345679")
    token = form_token((await http.get("/me")).text)
    answers = [
        (await http.post("/me/code", data={"phone": me.phone, "_ft": token})).status_code
        for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    assert await _count_codes(unit_of_work, me.phone) == 3
    code = await last_code(unit_of_work, me.phone)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        guess = await http.post("/me/verify", data={"phone": me.phone, "code": wrong, "_ft": token})
        assert guess.status_code == 400
    # Five wrong tries: the code is gone, even typed right.
    late = await http.post("/me/verify", data={"phone": me.phone, "code": code, "_ft": token})
    assert late.status_code == 400 and "kiunga_me=" not in late.headers.get("set-cookie", "")


async def test_a_post_without_the_form_token_sends_nothing(http, customer, unit_of_work):
    me = await customer("+254712345670")
    await http.get("/me")
    for token in ("", "123.abc", "x" * 300):
        answer = await http.post("/me/code", data={"phone": me.phone, "_ft": token})
        assert answer.status_code == 400
    assert await _count_codes(unit_of_work, me.phone) == 0


async def test_one_address_asking_codes_for_many_phones_is_stopped(http, unit_of_work):
    from kiunga.channels.selfcare.signin import SEND_LIMITS

    token = form_token((await http.get("/me")).text)
    answers = []
    for number in range(SEND_LIMITS["source"] + 1):
        phone = f"+2547110{number:05d}"
        answers.append(
            (await http.post("/me/code", data={"phone": phone, "_ft": token})).status_code
        )
    assert answers[:-1] == [200] * SEND_LIMITS["source"] and answers[-1] == 429
