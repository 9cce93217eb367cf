"""The tickets' manifest."""

from pathlib import Path

from kiunga.platform.areas import Area
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.tickets import api, console, service
from kiunga.tenants.tickets.scopes import SCOPES

AREA = Area(
    name="tickets",
    api_controllers=(api.TicketController,),
    console_controllers=(console.TicketsPageController,),
    nav=(NavItem("Tickets", "/tickets"),),
    templates=(Path(__file__).parent / "templates",),
    dashboard_counters=(("Open tickets", service.count_open_tickets),),
    scopes=SCOPES,
)
