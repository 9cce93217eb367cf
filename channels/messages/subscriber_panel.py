"""The "Messages" panel on a subscriber's console page (see
kiunga.tenants.subscribers.panels): their latest messages in and out, with the channel,
the text as staff may read it (sign-in codes masked), the status and the cost, and the way
to their whole log on the Messages page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiunga.channels.messages.queries import (
    MessageFilters,
    body_for_staff,
    format_cost,
    list_messages,
)
from kiunga.channels.messages.scopes import MESSAGES_READ
from kiunga.tenants.subscribers.panels import PanelRequest, SubscriberPanel

LATEST = 20


@dataclass(frozen=True)
class MessageLine:
    created_at: datetime
    direction: str
    channel: str
    kind: str
    text: str
    status: str
    problem: str
    cost: str


async def latest_messages(request: PanelRequest) -> dict:
    rows, total = await list_messages(
        request.session,
        MessageFilters(subscriber_id=request.subscriber_id),
        limit=LATEST,
        offset=0,
    )
    lines = [
        MessageLine(
            created_at=message.created_at,
            direction=message.direction.value,
            channel=message.channel.value,
            kind=message.kind.replace("_", " "),
            text=body_for_staff(message),
            status=message.status.value.replace("_", " "),
            problem=message.failure_reason or message.last_error or "",
            cost=format_cost(message.cost_micros, message.cost_currency),
        )
        for message in rows
    ]
    return {
        "messages": lines,
        "total": total,
        "log_url": f"/messages?subscriber_id={request.subscriber_id}",
    }


MESSAGES_PANEL = SubscriberPanel(
    name="messages",
    title="Messages",
    scope=MESSAGES_READ,
    template="messages/subscriber_panel.html",
    load=latest_messages,
)
