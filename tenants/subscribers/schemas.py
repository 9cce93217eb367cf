"""What the subscribers API reads and writes."""

from __future__ import annotations

from datetime import datetime

import msgspec
from kiunga.platform.web.inputs import Id, Text
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatusChange
from kiunga.tenants.subscribers.service import SubscriberFields

UNSET = msgspec.UNSET


class SubscriberCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Text
    account_number: Text | None = None
    phones: list[Text] = []
    email: Text | None = None
    region: Text = ""
    branch: Text = ""
    site_id: Id | None = None
    address: Text = ""
    unit: Text = ""
    latitude: float | None = None
    longitude: float | None = None
    notes: Text = ""
    language: Text = "en"
    reseller_id: Id | None = None
    status: Text = "lead"

    def fields(self) -> SubscriberFields:
        given = msgspec.structs.asdict(self)
        given.pop("status")
        return SubscriberFields(**given)


class SubscriberUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Absent fields stay as they are. Status changes go through …/status."""

    name: Text | msgspec.UnsetType = UNSET
    account_number: Text | msgspec.UnsetType = UNSET
    phones: list[Text] | msgspec.UnsetType = UNSET
    email: Text | None | msgspec.UnsetType = UNSET
    region: Text | msgspec.UnsetType = UNSET
    branch: Text | msgspec.UnsetType = UNSET
    site_id: Id | None | msgspec.UnsetType = UNSET
    address: Text | msgspec.UnsetType = UNSET
    unit: Text | msgspec.UnsetType = UNSET
    latitude: float | None | msgspec.UnsetType = UNSET
    longitude: float | None | msgspec.UnsetType = UNSET
    notes: Text | msgspec.UnsetType = UNSET
    language: Text | msgspec.UnsetType = UNSET
    reseller_id: Id | None | msgspec.UnsetType = UNSET

    def fields(self) -> SubscriberFields:
        given = {
            name: value
            for name in self.__struct_fields__
            if (value := getattr(self, name)) is not UNSET
        }
        return SubscriberFields(**given)


class StatusChange(msgspec.Struct, forbid_unknown_fields=True):
    status: Text
    reason: Text = ""


class SubscriberRead(msgspec.Struct):
    id: int
    account_number: str
    name: str
    phones: list[str]
    email: str | None
    region: str
    branch: str
    site_id: int | None
    address: str
    unit: str
    latitude: float | None
    longitude: float | None
    notes: str
    language: str
    status: str
    reseller_id: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, subscriber: Subscriber) -> SubscriberRead:
        return cls(
            id=subscriber.id,
            account_number=subscriber.account_number,
            name=subscriber.name,
            phones=[phone.phone for phone in subscriber.phones],
            email=subscriber.email,
            region=subscriber.region,
            branch=subscriber.branch,
            site_id=subscriber.site_id,
            address=subscriber.address,
            unit=subscriber.unit,
            latitude=float(subscriber.latitude) if subscriber.latitude is not None else None,
            longitude=float(subscriber.longitude) if subscriber.longitude is not None else None,
            notes=subscriber.notes,
            language=subscriber.language.value,
            status=subscriber.status.value,
            reseller_id=subscriber.reseller_id,
            created_at=subscriber.created_at,
            updated_at=subscriber.updated_at,
        )


class SubscriberPage(msgspec.Struct):
    items: list[SubscriberRead]
    total: int
    page: int
    per_page: int
    pages: int


class StatusChangeRead(msgspec.Struct):
    from_status: str | None
    to_status: str
    reason: str
    changed_by: str
    changed_by_staff_id: int | None
    changed_at: datetime

    @classmethod
    def of(cls, change: SubscriberStatusChange) -> StatusChangeRead:
        return cls(
            from_status=change.from_status.value if change.from_status else None,
            to_status=change.to_status.value,
            reason=change.reason,
            changed_by=change.changed_by,
            changed_by_staff_id=change.changed_by_staff_id,
            changed_at=change.changed_at,
        )
