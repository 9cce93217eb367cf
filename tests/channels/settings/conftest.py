"""Channel settings fixtures: ISPs with Africa's Talking and Twilio set up (a callback
token each), and API keys holding the settings scopes."""

from __future__ import annotations

import itertools
import os
import secrets
from dataclasses import dataclass

import pytest
from kiunga.channels.messages.settings import ChannelSettingsChange, callback_token, settings_row
from kiunga.channels.messages.settings import update_settings as save_settings

SETTINGS_SCOPES = ("channels.settings.read", "channels.settings.write")
_codes = itertools.count(10)


@dataclass
class ChannelIsp:
    id: int
    slug: str
    name: str
    schema: str
    host: str
    token: str
    auth_token: str
    key: str = ""

    def hook(self, path: str) -> str:
        return f"/hooks/channels/{self.token}/{path}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def new_auth_token() -> str:
    return secrets.token_hex(16)


@pytest.fixture
def make_channel_isp(make_tenant, unit_of_work, make_key):
    """An ISP with both providers set up; `key` holds the settings scopes."""

    async def make(prefix: str = "chs", **change) -> ChannelIsp:
        created = make_tenant(prefix)
        auth_token = new_auth_token()
        values = {
            "at_username": "sandbox",
            "at_api_key": "atsk_" + secrets.token_hex(20),
            "at_sender_id": "KIUNGA",
            "twilio_account_sid": "AC" + secrets.token_hex(16),
            "twilio_auth_token": auth_token,
            "whatsapp_from": "+14155238886",
            **change,
        }
        async with unit_of_work(created.schema) as session:
            await save_settings(session, created.id, ChannelSettingsChange(**values))
            token = callback_token(await settings_row(session))
        return ChannelIsp(
            created.id,
            created.slug,
            created.name,
            created.schema,
            created.host,
            token,
            auth_token,
            make_key(created.id, scopes=SETTINGS_SCOPES),
        )

    return make


@pytest.fixture
def fresh_code():
    """A USSD code no other test uses: the routes are platform-wide."""

    def make() -> str:
        return f"*{os.getpid() % 9000 + 1000}*{next(_codes)}#"

    return make
