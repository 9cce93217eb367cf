"""The captive portal's manifest: the hotspot user's pages under /portal/ on the ISP's host,
and the router's files offered in the console."""

from kiunga.channels.portal import console_files, web
from kiunga.platform.areas import Area

AREA = Area(
    name="portal",
    console_controllers=(web.PortalController, console_files.PortalRouterFilesController),
)
