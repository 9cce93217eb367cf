"""Messaging's scopes. The channel settings hold the ISP's provider credentials and the
secret callback addresses: owners and admins only, and never a reseller's key."""

from __future__ import annotations

from kiunga.platform.auth.scopes import Scope
from kiunga.platform.models import StaffRole

# The channel settings (settings_api, settings_console).
CHANNEL_SETTINGS_READ = "channels.settings.read"
CHANNEL_SETTINGS_WRITE = "channels.settings.write"
SETTINGS_SCOPES = (
    Scope(CHANNEL_SETTINGS_READ, roles={StaffRole.OWNER, StaffRole.ADMIN}),
    Scope(CHANNEL_SETTINGS_WRITE, roles={StaffRole.OWNER, StaffRole.ADMIN}),
)
