"""What the packages API reads and writes. Money is integer minor units: a JSON float
such as 10.5 is refused, never rounded."""

from __future__ import annotations

from datetime import datetime

import msgspec
from kiunga.platform.web.inputs import Id, Text
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.catalog.service import PackageFields

UNSET = msgspec.UNSET
# The web layer decodes leniently ("100" or 10.0 would become 100). Taking the raw JSON
# type lets the service refuse anything but a JSON integer, naming the field.
Whole = int | float | str


class PackageCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Text
    price: Whole
    validity_count: Whole
    validity_unit: Text
    rate_limit: Text
    # The name shown on the captive portal in Swahili; empty: `name` is shown.
    name_sw: Text = ""
    description: Text = ""
    billing_type: Text = "prepaid"
    service_type: Text = "pppoe"
    data_cap_bytes: Whole | None = None
    fup_rate_limit: Text | None = None
    site_ids: list[Id] = []
    shared_users: Whole = 1
    sold_on_portal: bool | Whole = False

    def fields(self) -> PackageFields:
        # Every field of the create body is a field of the service's; the rest default.
        return PackageFields(**{f: getattr(self, f) for f in self.__struct_fields__})


class PackageUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Absent fields stay as they are; null removes the data cap or the FUP rate."""

    name: Text | msgspec.UnsetType = UNSET
    name_sw: Text | msgspec.UnsetType = UNSET
    description: Text | msgspec.UnsetType = UNSET
    price: Whole | msgspec.UnsetType = UNSET
    billing_type: Text | msgspec.UnsetType = UNSET
    validity_count: Whole | msgspec.UnsetType = UNSET
    validity_unit: Text | msgspec.UnsetType = UNSET
    service_type: Text | msgspec.UnsetType = UNSET
    rate_limit: Text | msgspec.UnsetType = UNSET
    data_cap_bytes: Whole | None | msgspec.UnsetType = UNSET
    fup_rate_limit: Text | None | msgspec.UnsetType = UNSET
    site_ids: list[Id] | msgspec.UnsetType = UNSET
    shared_users: Whole | msgspec.UnsetType = UNSET
    sold_on_portal: bool | Whole | msgspec.UnsetType = UNSET

    def fields(self) -> PackageFields:
        given = {
            field: value
            for field in self.__struct_fields__
            if (value := getattr(self, field)) is not UNSET
        }
        return PackageFields(
            **given,
            clear_data_cap="data_cap_bytes" in given and given["data_cap_bytes"] is None,
            clear_fup_rate_limit="fup_rate_limit" in given and given["fup_rate_limit"] is None,
        )


class PackageRead(msgspec.Struct):
    id: int
    name: str
    name_sw: str
    description: str
    price: int
    currency: str
    billing_type: str
    validity_count: int
    validity_unit: str
    service_type: str
    rate_limit: str
    data_cap_bytes: int | None
    fup_rate_limit: str | None
    site_ids: list[int]
    shared_users: int
    sold_on_portal: bool
    active: bool
    created_at: datetime
    archived_at: datetime | None

    @classmethod
    def of(cls, package: Package) -> PackageRead:
        return cls(
            id=package.id,
            name=package.name,
            name_sw=package.name_sw,
            description=package.description,
            price=package.price,
            currency=package.currency,
            billing_type=package.billing_type.value,
            validity_count=package.validity_count,
            validity_unit=package.validity_unit.value,
            service_type=package.service_type.value,
            rate_limit=package.rate_limit,
            data_cap_bytes=package.data_cap_bytes,
            fup_rate_limit=package.fup_rate_limit,
            site_ids=sorted(site.id for site in package.sites),
            shared_users=package.shared_users,
            sold_on_portal=package.sold_on_portal,
            active=package.is_active,
            created_at=package.created_at,
            archived_at=package.archived_at,
        )
