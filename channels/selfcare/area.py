"""Self-care's manifest: the /me pages."""

from kiunga.platform.areas import Area

AREA = Area(name="selfcare")
