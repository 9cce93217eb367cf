"""Printable voucher sheets: 24 cards to an A4 page (3 across, 8 down), each with the ISP's
name, the package, its price and validity, the code and a QR code that opens the ISP's
captive portal with the code filled in.

The same cards make the HTML print view (the QR as inline SVG) and the PDF (the QR drawn
as vector rectangles, one run of dark modules at a time). Only unused vouchers are printed:
new and sold by default, or new only; never active, used up, expired or revoked ones.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

import segno
from kiunga.platform.auth.fence import Fence
from kiunga.platform.errors import DomainError
from kiunga.platform.money import format_money
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.catalog.service import describe_validity
from kiunga.tenants.vouchers.models import PortalSettings, Voucher, VoucherBatch, VoucherStatus
from markupsafe import Markup
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

COLUMNS, ROWS = 3, 8
PER_PAGE = COLUMNS * ROWS
INSTRUCTION = "Connect to Wi-Fi, open any page, enter the code"
# Medium error correction (segno raises it further when the symbol's size allows): a
# printed card survives a fold or a smudge, and the modules stay large enough for a cheap
# phone's camera.
QR_ERROR = "m"
# Which vouchers a sheet may hold, by the `status` query value.
STATUS_CHOICES: dict[str, tuple[VoucherStatus, ...]] = {
    "unused": (VoucherStatus.NEW, VoucherStatus.SOLD),
    "new": (VoucherStatus.NEW,),
    "sold": (VoucherStatus.SOLD,),
}
DEFAULT_STATUS = "unused"


class SheetError(DomainError, ValueError):
    """Bad input for a sheet; `field` names which."""


def portal_url_for_code(base_url: str, code: str) -> str:
    """The captive portal's redeem page with `code` filled in, on the ISP's host:
    `portal_url_for_code("https://isp.example", "AB23CD45")` →
    `https://isp.example/portal/?code=AB23CD45`. `base_url` is scheme, host and port
    (a trailing slash or path is dropped)."""
    base = base_url.strip()
    scheme, sep, rest = base.partition("://")
    host = rest.split("/", 1)[0] if sep else base.split("/", 1)[0]
    origin = f"{scheme}://{host}" if sep else f"https://{host}"
    return f"{origin}/portal/?{urlencode({'code': code})}"


def statuses_for(value: str | None) -> tuple[VoucherStatus, ...]:
    key = (value or DEFAULT_STATUS).strip().lower()
    if key not in STATUS_CHOICES:
        choices = ", ".join(sorted(STATUS_CHOICES))
        raise SheetError("status", f"status must be one of: {choices}")
    return STATUS_CHOICES[key]


def format_price(amount: int, currency: str) -> str:
    """Minor units as printed on a card: "KES 20", "KES 20.50", "UGX 500"."""
    return format_money(amount, currency, short=True)


def format_data_cap(cap_bytes: int | None) -> str | None:
    """Decimal units, as the catalog takes them: 1_500_000_000 → "1.5 GB"."""
    if not cap_bytes:
        return None
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if cap_bytes >= size:
            value = Decimal(cap_bytes) / size
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{cap_bytes} B"


@dataclass(frozen=True, slots=True)
class Card:
    code: str
    url: str


@dataclass(frozen=True, slots=True)
class Sheet:
    batch_id: int
    batch_name: str
    isp_name: str
    package_name: str
    price: str
    validity: str
    data_cap: str | None
    cards: list[Card]

    @property
    def pages(self) -> list[list[Card]]:
        return [self.cards[i : i + PER_PAGE] for i in range(0, len(self.cards), PER_PAGE)]

    @property
    def page_count(self) -> int:
        return max(1, -(-len(self.cards) // PER_PAGE))


async def load_sheet(
    session: AsyncSession,
    batch_id: int,
    *,
    base_url: str,
    isp_name: str,
    statuses: tuple[VoucherStatus, ...] = STATUS_CHOICES[DEFAULT_STATUS],
    reseller_id: int | None = None,
    now: datetime | None = None,
) -> Sheet | None:
    """The sheet of batch `batch_id`, or None when there is no such batch here or it is
    not `reseller_id`'s (an agent prints only their own batches). A batch whose unused
    codes have expired has nothing to print."""
    row = (
        await session.execute(
            select(VoucherBatch, Package)
            .join(Package, Package.id == VoucherBatch.package_id)
            .where(VoucherBatch.id == batch_id)
        )
    ).one_or_none()
    if row is None:
        return None
    batch, package = row
    if not Fence(reseller_id).admits(batch.reseller_id):
        return None
    now = now or datetime.now(UTC)
    expired = batch.unused_expires_at is not None and batch.unused_expires_at <= now
    codes: list[str] = []
    if not expired and batch.revoked_at is None:
        codes = list(
            (
                await session.scalars(
                    select(Voucher.code)
                    .where(Voucher.batch_id == batch.id, Voucher.status.in_(statuses))
                    .order_by(Voucher.id)
                )
            ).all()
        )
    title = await session.scalar(select(PortalSettings.title).where(PortalSettings.id == 1))
    return Sheet(
        batch_id=batch.id,
        batch_name=batch.name,
        isp_name=(title or "").strip() or isp_name,
        package_name=package.name,
        price=format_price(batch.price, batch.currency),
        validity=describe_validity(package),
        data_cap=format_data_cap(package.data_cap_bytes),
        cards=[Card(code, portal_url_for_code(base_url, code)) for code in codes],
    )


def qr_code(url: str) -> segno.QRCode:
    return segno.make(url, error=QR_ERROR, micro=False)


def qr_svg(url: str) -> Markup:
    """The QR code as inline SVG, sized by CSS (no width or height of its own), with a
    two-module quiet zone inside it (the card's padding adds the rest)."""
    svg = qr_code(url).svg_inline(scale=1, border=2, omitsize=True, svgclass="qr")
    return Markup(svg)


def html_cards(sheet: Sheet) -> list[list[tuple[Card, Markup]]]:
    """The sheet's pages of cards, each card with its QR code's SVG."""
    return [[(card, qr_svg(card.url)) for card in page] for page in sheet.pages]


# The PDF: A4 in points, 10 mm margins, cards of 63.3 × 34.6 mm.
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 10 * mm
CARD_WIDTH = (PAGE_WIDTH - 2 * MARGIN) / COLUMNS
CARD_HEIGHT = (PAGE_HEIGHT - 2 * MARGIN) / ROWS
PADDING = 2.2 * mm
QR_SIZE = CARD_HEIGHT - 2 * PADDING - 8
CODE_FONT, CODE_SIZE, CODE_MIN_SIZE = "Courier-Bold", 13.0, 8.0


def _fit(text: str, font: str, size: float, width: float, smallest: float) -> float:
    """The largest font size up to `size` at which `text` fits in `width`."""
    measured = stringWidth(text, font, size)
    if measured <= width:
        return size
    return max(smallest, size * width / measured)


def _clip(text: str, font: str, size: float, width: float) -> str:
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _code_lines(code: str, width: float) -> list[str]:
    """The code on one line, or on two halves when one line would need a font smaller
    than CODE_MIN_SIZE (a long prefix and code: up to 32 characters)."""
    if stringWidth(code, CODE_FONT, CODE_MIN_SIZE) <= width:
        return [code]
    half = -(-len(code) // 2)
    return [code[:half], code[half:]]


def _qr_operators(matrix) -> str:
    """PDF operators that fill a QR code's dark modules, one rectangle per horizontal run,
    in module units (row 0 at the top; the caller's transform scales and flips)."""
    ops: list[str] = []
    for row, line in enumerate(matrix):
        start = None
        for column, dark in enumerate(line):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                ops.append(f"{start} {row} {column - start} 1 re")
                start = None
        if start is not None:
            ops.append(f"{start} {row} {len(line) - start} 1 re")
    ops.append("f")
    return "\n".join(ops)


def _draw_card(canvas: Canvas, sheet: Sheet, card: Card, x: float, y: float) -> None:
    """One card with its lower left corner at (x, y)."""
    canvas.setStrokeColorRGB(0.7, 0.7, 0.7)
    canvas.setLineWidth(0.4)
    canvas.setDash(2, 2)
    canvas.rect(x, y, CARD_WIDTH, CARD_HEIGHT, stroke=1, fill=0)
    canvas.setDash()

    top = y + CARD_HEIGHT - PADDING
    qr_left = x + CARD_WIDTH - PADDING - QR_SIZE
    # The QR code, top right: a quiet zone of two modules inside its square.
    matrix = qr_code(card.url).matrix
    quiet = 2
    modules = len(matrix)
    module = QR_SIZE / (modules + 2 * quiet)
    canvas.saveState()
    canvas.setFillColorRGB(0, 0, 0)
    canvas.transform(module, 0, 0, -module, qr_left + quiet * module, top - quiet * module)
    canvas.addLiteral(_qr_operators(matrix))
    canvas.restoreState()

    left = x + PADDING
    width = qr_left - left - 2
    canvas.setFillColorRGB(0.35, 0.35, 0.35)
    canvas.setFont("Helvetica", 7)
    canvas.drawString(left, top - 7, _clip(sheet.isp_name, "Helvetica", 7, width))
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setFont("Helvetica-Bold", 9)
    canvas.drawString(left, top - 18, _clip(sheet.package_name, "Helvetica-Bold", 9, width))
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawString(left, top - 31, _clip(sheet.price, "Helvetica-Bold", 12, width))
    canvas.setFont("Helvetica", 7.5)
    canvas.drawString(left, top - 41, _clip(sheet.validity, "Helvetica", 7.5, width))
    if sheet.data_cap:
        canvas.drawString(left, top - 50, _clip(f"Data: {sheet.data_cap}", "Helvetica", 7.5, width))
    lines = _code_lines(card.code, width)
    size = min(_fit(line, CODE_FONT, CODE_SIZE, width, CODE_MIN_SIZE) for line in lines)
    canvas.setFont(CODE_FONT, size)
    for number, line in enumerate(reversed(lines)):
        canvas.drawString(left, y + PADDING + 11 + number * (size + 1), line)
    canvas.setFillColorRGB(0.25, 0.25, 0.25)
    canvas.setFont("Helvetica", 6.3)
    canvas.drawCentredString(x + CARD_WIDTH / 2, y + PADDING, INSTRUCTION)


def render_pdf(sheet: Sheet, *, compress: bool = True) -> bytes:
    """The sheet as an A4 PDF, 24 cards a page; one page saying so when nothing is left
    to print."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1 if compress else 0)
    canvas.setTitle(f"Vouchers: {sheet.package_name} ({sheet.isp_name})")
    canvas.setAuthor(sheet.isp_name)
    pages = sheet.pages or [[]]
    for number, cards in enumerate(pages):
        if number:
            canvas.showPage()
        if not cards:
            canvas.setFont("Helvetica", 12)
            canvas.drawString(MARGIN, PAGE_HEIGHT - MARGIN - 12, "No vouchers to print.")
        for index, card in enumerate(cards):
            row, column = divmod(index, COLUMNS)
            x = MARGIN + column * CARD_WIDTH
            y = PAGE_HEIGHT - MARGIN - (row + 1) * CARD_HEIGHT
            _draw_card(canvas, sheet, card, x, y)
    canvas.save()
    return buffer.getvalue()
