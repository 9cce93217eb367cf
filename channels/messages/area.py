"""Messaging's manifest: the ISP's channel settings, the outbound queue and its sender,
notifications from the other areas' events, templates, the message log and campaigns,
and the providers' delivery reports and status callbacks."""

from kiunga.channels.messages import notifications, sender
from kiunga.platform.areas import Area

AREA = Area(
    name="messages",
    jobs=(sender.drain_queue, sender.sweep_queues),
    event_handlers=(sender.wake_sender, *notifications.HANDLERS),
)
