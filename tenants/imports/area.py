"""The imports' manifest: subscribers from spreadsheets, in the console and `kiunga import`."""

from pathlib import Path

from kiunga.platform.areas import Area
from kiunga.tenants.imports import cli, console

AREA = Area(
    name="imports",
    console_controllers=(console.ImportsPageController,),
    templates=(Path(__file__).parent / "templates",),
    cli=(cli.register,),
)
