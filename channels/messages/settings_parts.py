"""What the channel settings and the providers' report callbacks add to messaging's
manifest (area.py), gathered here so that the manifest names them in a few lines of its
own."""

from pathlib import Path

from kiunga.channels.messages.callbacks_web import ChannelReportsController
from kiunga.channels.messages.scopes import SETTINGS_SCOPES
from kiunga.channels.messages.settings_api import ChannelSettingsController
from kiunga.channels.messages.settings_console import ChannelSettingsPageController
from kiunga.platform.web.console.rendering import NavItem

API_CONTROLLERS = (ChannelReportsController, ChannelSettingsController)
CONSOLE_CONTROLLERS = (ChannelSettingsPageController,)
NAV = (NavItem("Channels", "/settings/channels"),)
TEMPLATES = (Path(__file__).parent / "console_templates",)
SCOPES = SETTINGS_SCOPES
