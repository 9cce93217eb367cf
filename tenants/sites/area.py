"""The sites area's manifest: where an ISP's equipment and subscribers are."""

from pathlib import Path

from kiunga.platform.areas import Area
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.sites import api, console, service
from kiunga.tenants.sites.scopes import SCOPES

AREA = Area(
    name="sites",
    api_controllers=(api.SiteController,),
    console_controllers=(console.SitesPageController,),
    nav=(NavItem("Sites", "/sites"),),
    templates=(Path(__file__).parent / "templates",),
    dashboard_counters=(("Sites", service.count_sites),),
    scopes=SCOPES,
)
