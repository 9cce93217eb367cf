"""Hotspot vouchers bought from a phone: the packages the ISP sells on its portal, and a
purchase through the portal's own `start_purchase` (STK push; once paid the voucher is
issued and a `voucher.issued` event carries its code to the subscriber)."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.channels.portal.purchases import start_purchase
from kiunga.channels.portal.settings import packages_on_sale
from kiunga.channels.selfservice.accounts import clean_phone
from kiunga.channels.selfservice.errors import record_id
from kiunga.platform.db.engine import Database
from kiunga.tenants.mpesa.gateway import GatewayFactory, daraja_gateway
from kiunga.tenants.vouchers.models import HotspotPurchase
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class Offer:
    package_id: int
    name: str  # in the language asked for (the Swahili name where the ISP gave one)
    price: int
    currency: str
    validity_count: int
    validity_unit: str  # minute, hour, day, week, month
    data_cap_bytes: int | None


async def voucher_offers(session: AsyncSession, language: str = "en") -> list[Offer]:
    """The hotspot packages on sale, cheapest first."""
    return [
        Offer(
            p.id,
            p.name_sw if language == "sw" and p.name_sw else p.name,
            p.price,
            p.currency,
            p.validity_count,
            p.validity_unit,
            p.data_cap_bytes,
        )
        for p in await packages_on_sale(session)
    ]


async def buy_voucher(
    database: Database,
    schema: str,
    *,
    phone: str,
    package_id: int,
    language: str | None = None,
    gateway_factory: GatewayFactory = daraja_gateway,
) -> HotspotPurchase:
    """Send the STK push for a hotspot package (slow: Daraja). The pending purchase; its
    voucher is issued when the money arrives. VoucherError / MpesaError as the portal's."""
    return await start_purchase(
        database,
        schema,
        package_id=record_id(package_id, "package_id"),
        phone=clean_phone(phone),
        mac=None,
        ip=None,
        gateway_factory=gateway_factory,
        language=language,
    )
