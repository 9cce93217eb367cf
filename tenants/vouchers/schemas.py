"""What the vouchers API reads and writes. Money is integer minor units: a JSON float such
as 10.5 is refused by the service, never rounded (the raw JSON type is taken for that)."""

from __future__ import annotations

from datetime import datetime

import msgspec
from kiunga.platform.web.inputs import Text
from kiunga.platform.web.reads import read_of
from kiunga.tenants.vouchers.batches import DEFAULT_CODE_LENGTH, BatchSpec
from kiunga.tenants.vouchers.models import Voucher, VoucherBatch, VoucherSale
from kiunga.tenants.vouchers.sales import AgentSummary

# The web layer decodes leniently ("100" or 10.0 would become 100): keep the JSON type.
Whole = int | float | str


class BatchCreate(msgspec.Struct, forbid_unknown_fields=True):
    package_id: Whole
    count: Whole
    price: Whole | None = None
    code_length: Whole = DEFAULT_CODE_LENGTH
    alphabet: Text | None = None
    prefix: Text | None = None
    unused_expires_at: datetime | None = None
    mac_binding: bool = False
    name: Text = ""
    reseller_id: Whole | None = None
    commission_bp: Whole = 0

    def spec(self) -> BatchSpec:
        return BatchSpec(**{name: getattr(self, name) for name in self.__struct_fields__})


class BatchAssign(msgspec.Struct, forbid_unknown_fields=True):
    """The agent (null: none) and their commission in basis points of the price."""

    reseller_id: Whole | None
    commission_bp: Whole = 0


class BatchRead(msgspec.Struct):
    id: int
    name: str
    package_id: int
    count: int
    price: int
    currency: str
    code_length: int
    alphabet: str
    prefix: str
    unused_expires_at: datetime | None
    mac_binding: bool
    reseller_id: int | None
    commission_bp: int
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    # How many of its vouchers are in each state: new, sold, active, used_up, expired, revoked.
    statuses: dict[str, int]

    @classmethod
    def of(cls, batch: VoucherBatch, statuses: dict[str, int]) -> BatchRead:
        return read_of(cls, batch, statuses=statuses)


class BatchPage(msgspec.Struct):
    items: list[BatchRead]
    total: int
    limit: int
    offset: int


class VoucherRead(msgspec.Struct):
    id: int
    batch_id: int
    code: str
    status: str
    sold_at: datetime | None
    activated_at: datetime | None
    # The first login the network accepted (a validity that starts at first use runs
    # from here).
    first_login_at: datetime | None
    expires_at: datetime | None
    mac_address: str | None
    service_id: int | None
    ended_at: datetime | None

    @classmethod
    def of(cls, voucher: Voucher) -> VoucherRead:
        return read_of(cls, voucher, status=voucher.status.value)


class VoucherPage(msgspec.Struct):
    items: list[VoucherRead]
    total: int
    limit: int
    offset: int


class RevokeBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text = ""


class BatchRevoked(msgspec.Struct):
    batch: BatchRead
    revoked: int


class SaleCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Mark vouchers sold, by id or by code (or both)."""

    voucher_ids: list[Whole] = []
    codes: list[Text] = []


class SaleRead(msgspec.Struct):
    id: int
    voucher_id: int
    code: str
    batch_id: int
    reseller_id: int | None
    channel: str
    price: int
    commission: int
    currency: str
    payment_id: int | None
    sold_by: str
    sold_at: datetime

    @classmethod
    def of(cls, sale: VoucherSale, code: str) -> SaleRead:
        return read_of(cls, sale, code=code, channel=sale.channel.value)


class SalesRecorded(msgspec.Struct):
    items: list[SaleRead]
    total_price: int
    total_commission: int


class SalePage(msgspec.Struct):
    items: list[SaleRead]
    total: int
    limit: int
    offset: int


class AgentSummaryRead(msgspec.Struct):
    reseller_id: int
    name: str
    batches: int
    assigned: int
    sold: int
    redeemed: int
    sales_total: int
    commission: int
    currency: str

    @classmethod
    def of(cls, summary: AgentSummary) -> AgentSummaryRead:
        return read_of(cls, summary)
