"""Messaging's scopes: reading the message log and templates, and sending (templates,
campaigns, outage notices); and the channel settings, which hold the ISP's provider
credentials and the secret callback addresses: owners and admins only, never a reseller's
key."""

from __future__ import annotations

from kiunga.platform.auth.scopes import Scope
from kiunga.platform.models import StaffRole

MESSAGES_READ = "messages:read"
MESSAGES_WRITE = "messages:write"

SCOPES = (
    Scope(MESSAGES_READ, roles={StaffRole.OWNER, StaffRole.ADMIN, StaffRole.SUPPORT}),
    Scope(MESSAGES_WRITE, roles={StaffRole.OWNER, StaffRole.ADMIN}),
)

# The channel settings (settings_api, settings_console).
CHANNEL_SETTINGS_READ = "channels.settings.read"
CHANNEL_SETTINGS_WRITE = "channels.settings.write"
SETTINGS_SCOPES = (
    Scope(CHANNEL_SETTINGS_READ, roles={StaffRole.OWNER, StaffRole.ADMIN}),
    Scope(CHANNEL_SETTINGS_WRITE, roles={StaffRole.OWNER, StaffRole.ADMIN}),
)
