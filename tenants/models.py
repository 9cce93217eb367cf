"""Imports every tenant area's models, so that TenantBase.metadata is complete.

The channels add theirs in kiunga.channels.models, which Alembic and the schema tests import;
add each new tenant area's models here.
"""

from kiunga.platform.db.base import TenantBase
from kiunga.platform.jobs import outbox as _outbox  # noqa: F401
from kiunga.tenants.billing import models as _billing  # noqa: F401
from kiunga.tenants.catalog import models as _catalog  # noqa: F401
from kiunga.tenants.mpesa import models as _mpesa  # noqa: F401
from kiunga.tenants.network import models as _network  # noqa: F401
from kiunga.tenants.network.provisioning import models as _provisioning  # noqa: F401
from kiunga.tenants.network.radius import models as _radius  # noqa: F401
from kiunga.tenants.services import models as _services  # noqa: F401
from kiunga.tenants.sites import models as _sites  # noqa: F401
from kiunga.tenants.subscribers import models as _subscribers  # noqa: F401
from kiunga.tenants.tickets import models as _tickets  # noqa: F401
from kiunga.tenants.vouchers import models as _vouchers  # noqa: F401

metadata = TenantBase.metadata
