"""Every tenant table: the tenant areas' (kiunga.tenants.models) and the channels'.

Alembic's tenant track and the schema tests import this module (tenants never import
channels, so the channels' tables are gathered here); add each channel's models here.
"""

from kiunga.channels.messages import models as _messages  # noqa: F401
from kiunga.tenants.models import metadata

__all__ = ["metadata"]
