"""The lifecycle's manifest: its settings (grace period, reminders, postpaid terms), the
periodic run, and restoring service when a payment covers what is due."""

from pathlib import Path

from kiunga.platform.areas import Area
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.billing.hooks import payment_hook
from kiunga.tenants.lifecycle import api, console, jobs, restore

AREA = Area(
    name="lifecycle",
    api_controllers=(api.LifecycleSettingsController,),
    console_controllers=(console.LifecycleSettingsPageController,),
    nav=(NavItem("Settings", "/settings/lifecycle"),),
    templates=(Path(__file__).parent / "templates",),
    jobs=(jobs.lifecycle_run,),
    hooks=(payment_hook(restore.restore_after_payment),),
)
