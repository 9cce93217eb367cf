"""The Phone page's manifest (development only)."""

from kiunga.platform.areas import Area

AREA = Area(name="phone")
