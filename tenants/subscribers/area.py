"""The subscribers' manifest."""

from pathlib import Path

from kiunga.platform.areas import Area
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.subscribers import api, console, service
from kiunga.tenants.subscribers.scopes import SCOPES

AREA = Area(
    name="subscribers",
    api_controllers=(api.SubscriberController,),
    console_controllers=(console.SubscribersPageController,),
    nav=(NavItem("Subscribers", "/subscribers"),),
    templates=(Path(__file__).parent / "templates",),
    dashboard_counters=(("Active subscribers", service.count_subscribers),),
    scopes=SCOPES,
)
