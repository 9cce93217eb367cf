"""Messaging's manifest: the outbound queue and its sender, notifications from the other
areas' events, templates, the message log (its API and the console's Messages page) and
campaigns. Channel settings and the providers' callback routes are the settings' part;
they call receipts.apply_delivery_report / apply_whatsapp_status."""

from pathlib import Path

from kiunga.channels.messages import api, console, notifications, sender
from kiunga.channels.messages.scopes import SCOPES
from kiunga.platform.areas import Area
from kiunga.platform.web.console.rendering import NavItem

AREA = Area(
    name="messages",
    api_controllers=(api.MessagesController,),
    console_controllers=(console.MessagesPageController,),
    nav=(NavItem("Messages", "/messages"),),
    templates=(Path(__file__).parent / "templates",),
    scopes=SCOPES,
    jobs=(sender.drain_queue, sender.sweep_queues),
    event_handlers=(sender.wake_sender, *notifications.HANDLERS),
)
