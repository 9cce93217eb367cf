"""Self-care's manifest: the /me pages on the ISP's host, where a subscriber signs in with
their phone number and a code by SMS and sees and runs their own account."""

from kiunga.channels.selfcare import account_web, buy_web, help_web, jobs, signin_web, up_demo
from kiunga.platform.areas import Area, DemoStep

AREA = Area(
    name="selfcare",
    console_controllers=(
        signin_web.SignInController,
        account_web.AccountController,
        buy_web.BuyController,
        help_web.HelpController,
    ),
    event_handlers=jobs.HANDLERS,
    demo=DemoStep(banner=up_demo.banner),
)
