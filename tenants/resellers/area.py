"""The resellers' manifest (owners and admins manage them; a reseller's own key is refused)."""

from pathlib import Path

from kiunga.platform.areas import Area
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.resellers import api, console

AREA = Area(
    name="resellers",
    api_controllers=(api.ResellerController,),
    console_controllers=(console.ResellersPageController,),
    nav=(NavItem("Resellers", "/resellers"),),
    templates=(Path(__file__).parent / "templates",),
)
