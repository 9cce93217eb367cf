"""What the sites API reads and writes."""

from __future__ import annotations

from datetime import datetime

import msgspec
from kiunga.platform.web.inputs import Text
from kiunga.tenants.sites.models import Site


class SiteCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Text
    region: Text = ""


class SiteUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: Text | None = None
    region: Text | None = None


class SiteRead(msgspec.Struct):
    id: int
    name: str
    region: str
    created_at: datetime

    @classmethod
    def of(cls, site: Site) -> SiteRead:
        return cls(id=site.id, name=site.name, region=site.region, created_at=site.created_at)
