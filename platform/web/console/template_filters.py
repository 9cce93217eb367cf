"""Filters every console template may use.

`local`: a stored (UTC) time as the ISP's people read it, in the ISP's own zone (the
platform's pages, which belong to no ISP, show UTC and say so):
`{{ voucher.sold_at|local }}`, `{{ invoice.due_at|local("%Y-%m-%d") }}`. A date without a
time, or nothing, is shown as it is ("" for None).

`money`: stored minor units in their currency, as `kiunga.platform.money` formats them:
`{{ invoice.total|money(invoice.currency) }}` → "KES 1,500.00", `|money("UGX")` → "UGX 500";
`short=True` drops a whole amount's zero decimals, `code=False` leaves the currency out.
No template divides an amount by 100: how many minor units a currency has is the kit's.

`percent`: basis points as a percentage is typed and read: 1250 → "12.5".
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import pass_context
from kiunga.platform.money import format_money

DEFAULT_FORMAT = "%Y-%m-%d %H:%M"


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@pass_context
def local(context, moment, fmt: str = DEFAULT_FORMAT) -> str:
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        return moment.strftime(fmt)
    tenant = context.get("tenant")
    if tenant is None:
        return moment.astimezone(UTC).strftime(fmt) + " UTC"
    zone = _zone(getattr(tenant, "timezone", None) or "UTC")
    return moment.astimezone(zone).strftime(fmt)


def add_template_filters(engine) -> None:
    engine.engine.filters["local"] = local
    engine.engine.filters["money"] = format_money
    engine.engine.filters["percent"] = percent


def percent(basis_points: int | None) -> str:
    if basis_points is None:
        return ""
    return f"{Decimal(basis_points).scaleb(-2).normalize():f}"
