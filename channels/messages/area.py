"""Messaging's manifest: the outbound queue and its sender, notifications from the other
areas' events, templates, the message log (its API and the console's Messages page) and
campaigns, a panel of each subscriber's latest messages on their console page; and the
ISP's channel settings with the providers' report callbacks (gathered in settings_parts),
which call receipts.apply_delivery_report / apply_whatsapp_status."""

from pathlib import Path

from kiunga.channels.messages import api, console, notifications, sender
from kiunga.channels.messages import settings_parts as channel_settings
from kiunga.channels.messages.scopes import SCOPES
from kiunga.channels.messages.subscriber_panel import MESSAGES_PANEL
from kiunga.platform.areas import Area
from kiunga.platform.hooks import Hook
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.subscribers.panels import SUBSCRIBER_PANEL

AREA = Area(
    name="messages",
    api_controllers=(
        api.MessagesController,
        *channel_settings.API_CONTROLLERS,
    ),
    console_controllers=(
        console.MessagesPageController,
        *channel_settings.CONSOLE_CONTROLLERS,
    ),
    nav=(
        NavItem("Messages", "/messages"),
        *channel_settings.NAV,
    ),
    templates=(
        Path(__file__).parent / "templates",
        *channel_settings.TEMPLATES,
    ),
    scopes=(
        *SCOPES,
        *channel_settings.SCOPES,
    ),
    jobs=(sender.drain_queue, sender.sweep_queues),
    event_handlers=(sender.wake_sender, *notifications.HANDLERS),
    # The latest messages on each subscriber's console page.
    hooks=(Hook(SUBSCRIBER_PANEL, MESSAGES_PANEL),),
)
