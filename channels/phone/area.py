"""The Phone page's manifest (development only): the phone simulator in the console, and
channels' part of `kiunga up` (the Africa's Talking and Twilio emulators, the demo ISP's
channel settings pointed at them, the banner's USSD lines)."""

from pathlib import Path

from kiunga.channels.phone import console, up_demo
from kiunga.platform.areas import Area, DemoStep
from kiunga.platform.web.console.rendering import NavItem

AREA = Area(
    name="phone",
    console_controllers=(console.PhonePageController,),
    nav=(NavItem("Phone", "/phone", development_only=True),),
    templates=(Path(__file__).parent / "templates",),
    demo=DemoStep(seed=up_demo.seed, banner=up_demo.banner),
)
