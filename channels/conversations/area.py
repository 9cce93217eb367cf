"""Conversations' manifest: the USSD, SMS and WhatsApp inbound callbacks and the jobs that
act after a USSD session ends (the STK push)."""

from kiunga.channels.conversations import actions, web
from kiunga.platform.areas import Area

AREA = Area(
    name="conversations",
    api_controllers=(web.ConversationHooksController,),
    jobs=(actions.run_later,),
    event_handlers=(actions.schedule_later,),
)
