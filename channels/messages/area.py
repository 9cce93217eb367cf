"""Messaging's manifest: the ISP's channel settings, the outbound queue and its sender,
notifications from the other areas' events, templates, the message log and campaigns,
and the providers' delivery reports and status callbacks."""

from kiunga.platform.areas import Area

AREA = Area(name="messages")
