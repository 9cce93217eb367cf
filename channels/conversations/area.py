"""Conversations' manifest: the USSD, SMS and WhatsApp inbound callbacks and the jobs that
act after a USSD session ends (the STK push)."""

from kiunga.platform.areas import Area

AREA = Area(name="conversations")
