"""The catalog's manifest: the packages an ISP sells."""

from pathlib import Path

from kiunga.platform.areas import Area
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.catalog import api, console, service
from kiunga.tenants.catalog.scopes import SCOPES

AREA = Area(
    name="catalog",
    api_controllers=(api.PackageController,),
    console_controllers=(console.PackagesPageController,),
    nav=(NavItem("Packages", "/packages"),),
    templates=(Path(__file__).parent / "templates",),
    dashboard_counters=(("Packages on sale", service.count_packages),),
    scopes=SCOPES,
)
