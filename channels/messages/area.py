"""Messaging's manifest: the ISP's channel settings, the outbound queue and its sender,
notifications from the other areas' events, templates, the message log and campaigns,
and the providers' delivery reports and status callbacks."""

from kiunga.channels.messages import settings_parts
from kiunga.platform.areas import Area

AREA = Area(
    name="messages",
    api_controllers=(*settings_parts.API_CONTROLLERS,),
    console_controllers=(*settings_parts.CONSOLE_CONTROLLERS,),
    nav=(*settings_parts.NAV,),
    templates=(*settings_parts.TEMPLATES,),
    scopes=(*settings_parts.SCOPES,),
)
