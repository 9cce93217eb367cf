"""Messaging's scopes: reading the message log and templates, and sending (templates,
campaigns, outage notices)."""

from __future__ import annotations

from kiunga.platform.auth.scopes import Scope
from kiunga.platform.models import StaffRole

MESSAGES_READ = "messages:read"
MESSAGES_WRITE = "messages:write"

SCOPES = (
    Scope(MESSAGES_READ, roles={StaffRole.OWNER, StaffRole.ADMIN, StaffRole.SUPPORT}),
    Scope(MESSAGES_WRITE, roles={StaffRole.OWNER, StaffRole.ADMIN}),
)
