"""/api/v1/channel-settings: secrets write-only and encrypted at rest, every field checked
(4xx naming it), the USSD code claimed platform-wide (one ISP per code, moved on change),
the callback token rotated, scopes."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from kiunga.channels.messages import settings as channel_settings
from kiunga.channels.messages.models import ChannelSettings
from kiunga.channels.messages.routing import ChannelRoutes
from sqlalchemy import select

from .conftest import SETTINGS_SCOPES, new_auth_token

API = "/api/v1/channel-settings"


async def raw_settings(unit_of_work, isp) -> dict:
    async with unit_of_work(isp.schema) as session:
        # The table's columns as stored, not through the model.
        row = (await session.execute(select(ChannelSettings.__table__))).mappings().one()
        return dict(row)


async def test_secrets_are_never_returned_and_are_encrypted_in_the_table(
    make_channel_isp, client_for, unit_of_work
):
    isp = await make_channel_isp()
    client = client_for(isp.host)
    api_key, auth_token = "atsk_very-secret-api-key", new_auth_token()
    changed = await client.put(
        API,
        json={"at_api_key": api_key, "twilio_auth_token": auth_token, "at_sender_id": "Fibre2"},
        headers=isp.headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["at_api_key_set"] is True and body["twilio_auth_token_set"] is True
    assert body["at_sender_id"] == "Fibre2"
    assert "at_api_key" not in body and "twilio_auth_token" not in body
    read = await client.get(API, headers=isp.headers)
    for answer in (changed, read):
        assert api_key not in answer.text and auth_token not in answer.text
        assert isp.token in answer.text  # the callback URLs, for the dashboards
    row = await raw_settings(unit_of_work, isp)
    assert row["at_api_key_encrypted"] and api_key not in row["at_api_key_encrypted"]
    assert auth_token not in row["twilio_auth_token_encrypted"]
    assert isp.token not in row["callback_token_encrypted"]
    # Leaving a secret out keeps it; an empty one is refused rather than clearing it.
    kept = await client.put(API, json={"at_sender_id": "Fibre3"}, headers=isp.headers)
    assert kept.json()["at_api_key_set"] is True
    assert (await raw_settings(unit_of_work, isp))["at_api_key_encrypted"] == row[
        "at_api_key_encrypted"
    ]
    empty = await client.put(API, json={"at_api_key": " "}, headers=isp.headers)
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "at_api_key"


async def test_the_first_save_makes_the_callback_urls(make_tenant, make_key, client_for):
    created = make_tenant("chf")
    client = client_for(created.host)
    headers = {"Authorization": f"Bearer {make_key(created.id, scopes=SETTINGS_SCOPES)}"}
    empty = await client.get(API, headers=headers)
    assert empty.status_code == 200 and empty.json()["configured"] is False
    assert empty.json()["callback_urls"] is None
    saved = await client.put(API, json={"send_rate_per_second": 50}, headers=headers)
    assert saved.status_code == 200, saved.text
    urls = saved.json()["callback_urls"]
    token = urls["ussd"].rsplit("/", 2)[-2]
    assert urls == {
        "ussd": f"http://127.0.0.1:8000/hooks/channels/{token}/ussd",
        "sms": f"http://127.0.0.1:8000/hooks/channels/{token}/sms",
        "delivery": f"http://127.0.0.1:8000/hooks/channels/{token}/delivery",
        "whatsapp": f"http://127.0.0.1:8000/hooks/channels/{token}/whatsapp",
        "whatsapp_status": f"http://127.0.0.1:8000/hooks/channels/{token}/whatsapp/status",
    }
    again = await client.put(API, json={"send_rate_per_second": 60}, headers=headers)
    assert again.json()["callback_urls"] == urls  # saving again keeps the token


REFUSED = [
    ("at_username", "has space"),
    ("at_username", "x" * 101),
    ("at_sender_id", "TwelveChars1"),
    ("at_sender_id", "Fibre Net"),
    ("at_sender_id", "Fibré"),
    ("at_shortcode", "12a45"),
    ("at_shortcode", "12"),
    ("at_base_url", "ftp://example.com"),
    ("at_base_url", "http://"),
    ("at_base_url", "http://user@example.com/"),
    ("at_base_url", "https://" + "a" * 200 + ".com"),
    ("ussd_service_code", "*483*57"),
    ("ussd_service_code", "483*57#"),
    ("ussd_service_code", "*483**57#"),
    ("ussd_service_code", "*48a*57#"),
    ("ussd_service_code", "*12345*1#"),
    ("ussd_service_code", "#483*57#"),
    ("ussd_extension", "0"),
    ("ussd_extension", "03"),
    ("ussd_extension", "1234567"),
    ("ussd_extension", "3a"),
    ("twilio_account_sid", "AC123"),
    ("twilio_account_sid", "XX" + "0" * 32),
    ("twilio_account_sid", "AC" + "g" * 32),
    ("twilio_auth_token", "not-hex-" + "0" * 24),
    ("twilio_auth_token", "0" * 31),
    ("whatsapp_from", "0712"),
    ("whatsapp_from", "+999123"),
    ("whatsapp_from", "whatsapp:0712345678"),
    ("twilio_base_url", "javascript:alert(1)"),
    ("quiet_hours_start", "25:00"),
    ("quiet_hours_start", "9pm"),
    ("quiet_hours_end", "07:60"),
    ("send_rate_per_second", 0),
    ("send_rate_per_second", 1001),
    ("send_rate_per_second", "fast"),
    ("send_rate_per_second", 2.5),
    ("whatsapp_templates", {"receipt": "HX123"}),
    ("whatsapp_templates", {"receipt": "MX" + "0" * 32}),
    ("whatsapp_templates", {"birthday": "HX" + "0" * 32}),
    ("at_sender_id", "ABC\x00"),
    ("at_api_key", "key\x00"),
    ("at_api_key", "k" * 201),
    ("ussd_service_code", "*1#" + "\x00"),
]


@pytest.mark.parametrize(("field", "value"), REFUSED)
async def test_each_bad_value_is_refused_naming_its_field(
    make_channel_isp, client_for, field, value, unit_of_work
):
    isp = await make_channel_isp()
    client = client_for(isp.host)
    before = await raw_settings(unit_of_work, isp)
    refused = await client.put(API, json={field: value}, headers=isp.headers)
    assert refused.status_code == 400, (field, value, refused.text)
    named = refused.json()["errors"][0]["field"]
    assert named == field or named.startswith(f"{field}."), refused.text
    assert await raw_settings(unit_of_work, isp) == before


async def test_good_values_are_kept_as_normalised(make_channel_isp, client_for):
    isp = await make_channel_isp()
    client = client_for(isp.host)
    sid = "HX" + "ab" * 16
    saved = await client.put(
        API,
        json={
            "at_shortcode": "22384",
            "at_base_url": "http://127.0.0.1:9/at/",
            "whatsapp_from": "whatsapp:+254 712 345 678",
            "quiet_hours_start": "22:30",
            "quiet_hours_end": "06:00",
            "send_rate_per_second": 1000,
            "whatsapp_templates": {"receipt": sid, "overdue": sid},
        },
        headers=isp.headers,
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["at_base_url"] == "http://127.0.0.1:9/at"
    assert body["whatsapp_from"] == "+254712345678"
    assert (body["quiet_hours_start"], body["quiet_hours_end"]) == ("22:30", "06:00")
    assert body["whatsapp_templates"] == {"receipt": sid, "overdue": sid}
    # One template removed, the other kept; quiet hours off; a half pair refused.
    changed = await client.put(
        API,
        json={
            "whatsapp_templates": {"overdue": ""},
            "quiet_hours_start": "",
            "quiet_hours_end": "",
        },
        headers=isp.headers,
    )
    assert changed.json()["whatsapp_templates"] == {"receipt": sid}
    assert changed.json()["quiet_hours_start"] is None
    half = await client.put(API, json={"quiet_hours_start": "22:00"}, headers=isp.headers)
    assert half.status_code == 400 and half.json()["errors"][0]["field"] == "quiet_hours_end"
    same = await client.put(
        API, json={"quiet_hours_start": "22:00", "quiet_hours_end": "22:00"}, headers=isp.headers
    )
    assert same.status_code == 400
    unknown = await client.put(API, json={"at_password": "x"}, headers=isp.headers)
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "at_password"


async def test_a_twilio_account_needs_its_auth_token(make_tenant, make_key, client_for):
    created = make_tenant("cht")
    client = client_for(created.host)
    headers = {"Authorization": f"Bearer {make_key(created.id, scopes=SETTINGS_SCOPES)}"}
    refused = await client.put(API, json={"twilio_account_sid": "AC" + "0" * 32}, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "twilio_auth_token"
    assert (await client.get(API, headers=headers)).json()["configured"] is False


async def test_a_ussd_code_is_one_isps_and_moves_when_changed(
    make_channel_isp, client_for, database, fresh_code
):
    a, b = await make_channel_isp("chua"), await make_channel_isp("chub")
    routes = ChannelRoutes(database, ttl_seconds=0)
    code, shared = fresh_code(), fresh_code()

    own = await client_for(a.host).put(API, json={"ussd_service_code": code}, headers=a.headers)
    assert own.status_code == 200 and own.json()["ussd_dial"] == code
    assert (await routes.by_code(code)).tenant_id == a.id
    taken = await client_for(b.host).put(API, json={"ussd_service_code": code}, headers=b.headers)
    assert taken.status_code == 409
    assert taken.json()["errors"][0] == {
        "field": "ussd_service_code",
        "message": f"{code} is another ISP's USSD code",
    }
    # Nor can B hang an extension off A's own code: a hop would be A's or B's.
    under = await client_for(b.host).put(
        API, json={"ussd_service_code": code, "ussd_extension": "4"}, headers=b.headers
    )
    assert under.status_code == 409 and under.json()["errors"][0]["field"] == "ussd_service_code"

    # A shared code: an extension each; the same extension twice is refused.
    a_shared = await client_for(a.host).put(
        API, json={"ussd_service_code": shared, "ussd_extension": "3"}, headers=a.headers
    )
    assert a_shared.status_code == 200
    assert a_shared.json()["ussd_dial"] == shared[:-1] + "*3#"
    assert await routes.by_code(code) is None  # A's old code is free again
    b_same = await client_for(b.host).put(
        API, json={"ussd_service_code": shared, "ussd_extension": "3"}, headers=b.headers
    )
    assert b_same.status_code == 409 and b_same.json()["errors"][0]["field"] == "ussd_extension"
    b_own = await client_for(b.host).put(
        API, json={"ussd_service_code": shared, "ussd_extension": ""}, headers=b.headers
    )
    assert b_own.status_code == 409
    b_next = await client_for(b.host).put(
        API, json={"ussd_service_code": shared, "ussd_extension": "4"}, headers=b.headers
    )
    assert b_next.status_code == 200, b_next.text
    assert (await routes.ussd(shared, "3*1")).target.tenant_id == a.id
    assert (await routes.ussd(shared, "4")).target.tenant_id == b.id
    # The code A left is B's for the asking; clearing the code frees it.
    b_free = await client_for(b.host).put(
        API, json={"ussd_service_code": code, "ussd_extension": ""}, headers=b.headers
    )
    assert b_free.status_code == 200 and (await routes.by_code(code)).tenant_id == b.id
    cleared = await client_for(b.host).put(
        API, json={"ussd_service_code": "", "ussd_extension": ""}, headers=b.headers
    )
    assert cleared.status_code == 200 and cleared.json()["ussd_dial"] is None
    assert await routes.by_code(code) is None


async def test_scopes_guard_the_settings(make_channel_isp, make_key, client_for):
    isp = await make_channel_isp()
    client = client_for(isp.host)
    reader = {"Authorization": f"Bearer {make_key(isp.id, scopes=('channels.settings.read',))}"}
    assert (await client.get(API, headers=reader)).status_code == 200
    assert (await client.put(API, json={}, headers=reader)).status_code == 403
    assert (await client.post(f"{API}/rotate-callback-token", headers=reader)).status_code == 403
    other = {"Authorization": f"Bearer {make_key(isp.id, scopes=('tickets:read',))}"}
    assert (await client.get(API, headers=other)).status_code == 403
    assert (await client.get(API)).status_code == 401
    # Another ISP's key is nobody here.
    elsewhere = await make_channel_isp("chx")
    assert (await client.get(API, headers=elsewhere.headers)).status_code == 401


async def test_two_isps_claiming_one_code_at_once_get_one_200_and_409s(
    make_channel_isp, client_for, fresh_code, database
):
    isps = [await make_channel_isp(f"chc{n}") for n in range(4)]
    code = fresh_code()

    async def claim(isp):
        return await client_for(isp.host).put(
            API, json={"ussd_service_code": code}, headers=isp.headers
        )

    answers = await asyncio.gather(*(claim(isp) for isp in isps))
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    winner = isps[[a.status_code for a in answers].index(200)]
    assert (await ChannelRoutes(database, 0).by_code(code)).tenant_id == winner.id


async def test_in_production_the_api_addresses_are_the_providers_own(
    make_channel_isp, client_for, monkeypatch, settings
):
    production = dataclasses.replace(settings, environment="production")
    monkeypatch.setattr(channel_settings, "get_settings", lambda: production)
    isp = await make_channel_isp()
    client = client_for(isp.host)
    for field, value in [
        ("at_base_url", "http://127.0.0.1:9000"),
        ("at_base_url", "http://api.africastalking.com"),
        ("at_base_url", "https://africastalking.com.evil.example"),
        ("twilio_base_url", "https://api.twilio.com:8443"),
        ("twilio_base_url", "https://eviltwilio.com"),
    ]:
        refused = await client.put(API, json={field: value}, headers=isp.headers)
        assert refused.status_code == 400, (field, value)
        assert refused.json()["errors"][0]["field"] == field
    allowed = await client.put(
        API,
        json={
            "at_base_url": "https://api.sandbox.africastalking.com",
            "twilio_base_url": "https://api.twilio.com",
            "quiet_hours_start": "21:00:00",
            "quiet_hours_end": "06:30",
        },
        headers=isp.headers,
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["quiet_hours_start"] == "21:00"
