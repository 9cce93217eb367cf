"""The reports' manifest."""

from pathlib import Path

from kiunga.platform.areas import Area
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.reports import api, console
from kiunga.tenants.reports.scopes import SCOPES

AREA = Area(
    name="reports",
    api_controllers=(api.ReportController,),
    console_controllers=(console.ReportsPageController,),
    nav=(NavItem("Reports", "/reports"),),
    templates=(Path(__file__).parent / "templates",),
    scopes=SCOPES,
)
