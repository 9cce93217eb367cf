"""Printable voucher sheets: the HTML print view and the PDF, through the console with a
signed-in staff member, against the real database. The QR codes are read back (the SVG's
path, the PDF's rectangles) into module matrices and compared with the symbol of the
portal URL each card should open."""

from __future__ import annotations

import base64
import re
import zlib
from datetime import UTC, datetime, timedelta

import segno
from kiunga.platform.models import StaffRole
from kiunga.tenants.vouchers import sheets
from kiunga.tenants.vouchers.codes import random_codes
from kiunga.tenants.vouchers.models import PortalSettings, Voucher, VoucherBatch, VoucherStatus

SVG = re.compile(r'<svg viewBox="0 0 (\d+) \d+" class="qr">.*?</svg>', re.S)
CARD = re.compile(r'<div class="card">.*?<div class="code[^"]*">([^<]+)</div>', re.S)
PATH_COMMAND = re.compile(r"([MmHhVv])([-\d.\s]*)")


async def add_batch(unit_of_work, package_id, statuses, *, schema=None, **batch_fields):
    """A batch with one voucher per status in `statuses`; returns (batch id, codes by status)."""
    codes = random_codes(len(statuses), 10)
    now = datetime.now(UTC)
    async with unit_of_work(schema) as session:
        batch = VoucherBatch(
            package_id=package_id,
            count=len(statuses),
            price=batch_fields.pop("price", 2_000),
            currency="KES",
            code_length=10,
            alphabet="23456789ABCDEFGHJKMNPQRSTUVWXYZ",
            **batch_fields,
        )
        session.add(batch)
        await session.flush()
        for code, status in zip(codes, statuses, strict=True):
            used = status in (VoucherStatus.ACTIVE, VoucherStatus.USED_UP)
            session.add(
                Voucher(
                    batch_id=batch.id,
                    code=code,
                    status=status,
                    activated_at=now if used else None,
                )
            )
        batch_id = batch.id
    by_status: dict[VoucherStatus, list[str]] = {}
    for code, status in zip(codes, statuses, strict=True):
        by_status.setdefault(status, []).append(code)
    return batch_id, by_status


def svg_matrix(svg: str) -> list[list[bool]]:
    """The dark modules drawn by segno's SVG path (lines of stroke width 1 along y + 0.5),
    without the two-module quiet zone."""
    size = int(SVG.match(svg).group(1))
    grid = [[False] * size for _ in range(size)]
    d = re.search(r' d="([^"]+)"', svg).group(1)
    x = y = 0.0
    for command, args in PATH_COMMAND.findall(d):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        elif command == "h":
            for column in range(int(x), int(x + numbers[0])):
                grid[int(y)][column] = True
            x += numbers[0]
        else:
            raise AssertionError(f"unexpected path command {command}")
    return [row[2 : size - 2] for row in grid[2 : size - 2]]


def expected_matrix(url: str) -> list[list[bool]]:
    return [[bool(v) for v in row] for row in segno.make(url, error="m", micro=False).matrix]


def pdf_streams(pdf: bytes) -> list[bytes]:
    """Every stream's content, undoing reportlab's filters (ASCII85, then Flate)."""
    streams = []
    for head, raw in re.findall(rb"<<([^>]*)>>\s*stream\r?\n(.*?)\s*endstream", pdf, re.S):
        if b"/ASCII85Decode" in head:
            raw = base64.a85decode(raw.strip().removesuffix(b"~>"))
        if b"/FlateDecode" in head:
            raw = zlib.decompress(raw)
        streams.append(raw)
    return streams


def pdf_page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", pdf))


def pdf_cards(pdf: bytes) -> list[tuple[str, list[list[bool]]]]:
    """Each card's code and the QR matrix its rectangles draw, in page order."""
    cards = []
    for stream in pdf_streams(pdf):
        text = stream.decode("latin-1")
        blocks = re.findall(r" cm\n((?:\d+ \d+ \d+ 1 re\n)+)f\n", text)
        codes = re.findall(r"\(([2-9A-Z]{10})\) Tj", text)
        assert len(blocks) == len(codes), (len(blocks), len(codes))
        for block, code in zip(blocks, codes, strict=True):
            runs = [tuple(map(int, line.split()[:3])) for line in block.strip().splitlines()]
            size = max(row for _, row, _ in runs) + 1
            size = max(size, max(start + length for start, _, length in runs))
            grid = [[False] * size for _ in range(size)]
            for start, row, length in runs:
                for column in range(start, start + length):
                    grid[row][column] = True
            cards.append((code, grid))
    return cards


async def test_print_view_has_one_card_per_unused_voucher_with_a_qr_for_the_portal(
    tenant, add_package, unit_of_work, signed_in
):
    package_id = await add_package(price=2_000, data_cap_bytes=1_500_000_000)
    statuses = [VoucherStatus.NEW] * 4 + [VoucherStatus.SOLD] * 2
    statuses += [VoucherStatus.ACTIVE, VoucherStatus.USED_UP, VoucherStatus.EXPIRED]
    statuses += [VoucherStatus.REVOKED]
    batch_id, codes = await add_batch(unit_of_work, package_id, statuses, name="Stage A")
    printable = codes[VoucherStatus.NEW] + codes[VoucherStatus.SOLD]
    left_out = [c for s, group in codes.items() if s not in ("new", "sold") for c in group]

    owner = await signed_in(StaffRole.OWNER)
    answer = await owner.get(f"/vouchers/batches/{batch_id}/sheet")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    html = answer.text
    cards = CARD.findall(html)
    assert cards == printable
    for code in left_out:
        assert code not in html
    assert html.count('<div class="card">') == 6
    assert html.count('class="sheet"') == 1
    assert tenant.name in html and "KES 20<" in html and "1 hour" in html
    assert "Data: 1.5 GB" in html and sheets.INSTRUCTION in html
    assert f'href="/vouchers/batches/{batch_id}/sheet.pdf"' in html
    assert 'href="?status=new"' in html and f'href="/vouchers/batches/{batch_id}"' in html

    svgs = SVG.findall(html)
    assert len(svgs) == 6
    for code, svg in zip(printable, (m.group(0) for m in SVG.finditer(html)), strict=True):
        url = f"http://{tenant.host}/portal/?code={code}"
        assert svg_matrix(svg) == expected_matrix(url), code

    only_new = await owner.get(f"/vouchers/batches/{batch_id}/sheet", params={"status": "new"})
    assert CARD.findall(only_new.text) == codes[VoucherStatus.NEW]
    assert f'href="/vouchers/batches/{batch_id}/sheet.pdf?status=new"' in only_new.text
    assert 'href="?">Show new and sold' in only_new.text
    bad = await owner.get(
        f"/vouchers/batches/{batch_id}/sheet",
        params={"status": "used"},
        headers={"Accept": "application/json"},
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "status"


async def test_pdf_has_24_cards_a_page_with_codes_and_portal_qr_codes(
    tenant, add_package, unit_of_work, signed_in
):
    package_id = await add_package()
    statuses = [VoucherStatus.NEW] * 45 + [VoucherStatus.SOLD] * 5
    statuses += [VoucherStatus.REVOKED] * 3 + [VoucherStatus.USED_UP] * 2
    batch_id, codes = await add_batch(unit_of_work, package_id, statuses)
    printable = codes[VoucherStatus.NEW] + codes[VoucherStatus.SOLD]

    finance = await signed_in(StaffRole.FINANCE)
    answer = await finance.get(f"/vouchers/batches/{batch_id}/sheet.pdf")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert f'filename="vouchers-batch-{batch_id}.pdf"' in answer.headers["content-disposition"]
    pdf = answer.content
    assert pdf.startswith(b"%PDF")
    assert pdf_page_count(pdf) == 3
    assert re.search(rb"/Count 3\b", pdf)
    cards = pdf_cards(pdf)
    assert [code for code, _ in cards] == printable
    for code, matrix in cards:
        url = f"http://{tenant.host}/portal/?code={code}"
        assert matrix == expected_matrix(url), code
    # No bitmaps: the QR codes are vectors.
    assert b"/Subtype /Image" not in pdf and b"/XObject" not in pdf

    only_new = await finance.get(
        f"/vouchers/batches/{batch_id}/sheet.pdf", params={"status": "new"}
    )
    assert pdf_page_count(only_new.content) == 2
    assert [code for code, _ in pdf_cards(only_new.content)] == codes[VoucherStatus.NEW]


async def test_nothing_left_to_print(add_package, unit_of_work, signed_in):
    package_id = await add_package()
    used = [VoucherStatus.USED_UP, VoucherStatus.REVOKED]
    batch_id, codes = await add_batch(unit_of_work, package_id, used)
    past = datetime.now(UTC) - timedelta(days=1)
    expired_id, expired = await add_batch(
        unit_of_work, package_id, [VoucherStatus.NEW], unused_expires_at=past
    )
    revoked_id, revoked = await add_batch(
        unit_of_work, package_id, [VoucherStatus.SOLD], revoked_at=past
    )
    owner = await signed_in(StaffRole.OWNER)
    for batch in (batch_id, expired_id, revoked_id):
        page = await owner.get(f"/vouchers/batches/{batch}/sheet")
        assert page.status_code == 200
        assert "No vouchers to print" in page.text and '<div class="card">' not in page.text
        pdf = (await owner.get(f"/vouchers/batches/{batch}/sheet.pdf")).content
        assert pdf.startswith(b"%PDF") and pdf_page_count(pdf) == 1
        assert pdf_cards(pdf) == []
    assert expired[VoucherStatus.NEW][0] not in page.text


async def test_unknown_and_other_isps_batches_are_not_found(
    tenant, make_tenant, add_package, unit_of_work, signed_in
):
    own_package = await add_package()
    own_batch, _ = await add_batch(unit_of_work, own_package, [VoucherStatus.NEW])
    other = make_tenant("vch")
    other_package = await add_package(schema=other.schema)
    other_batches = [
        (await add_batch(unit_of_work, other_package, [VoucherStatus.NEW], schema=other.schema))
        for _ in range(3)
    ]
    foreign_id, foreign_codes = other_batches[-1]
    assert foreign_id > own_batch

    owner = await signed_in(StaffRole.OWNER)
    for batch in (foreign_id, 999_999):
        for suffix in ("sheet", "sheet.pdf"):
            answer = await owner.get(f"/vouchers/batches/{batch}/{suffix}")
            assert answer.status_code == 404, (batch, suffix)
            assert foreign_codes[VoucherStatus.NEW][0] not in answer.text


async def test_agents_print_only_their_own_batches_and_roles_need_vouchers_read(
    tenant, add_package, add_reseller, unit_of_work, make_agent, signed_in, client_for
):
    package_id = await add_package()
    mine, theirs = await add_reseller("Mama Mboga"), await add_reseller("Baba Njoro")
    own_batch, own_codes = await add_batch(
        unit_of_work, package_id, [VoucherStatus.NEW] * 2, reseller_id=mine
    )
    other_batch, _ = await add_batch(
        unit_of_work, package_id, [VoucherStatus.NEW], reseller_id=theirs
    )
    unassigned, _ = await add_batch(unit_of_work, package_id, [VoucherStatus.NEW])

    agent = await signed_in(email=make_agent(tenant.id, mine))
    page = await agent.get(f"/vouchers/batches/{own_batch}/sheet")
    assert page.status_code == 200 and CARD.findall(page.text) == own_codes["new"]
    assert (await agent.get(f"/vouchers/batches/{own_batch}/sheet.pdf")).status_code == 200
    for batch in (other_batch, unassigned):
        for suffix in ("sheet", "sheet.pdf"):
            answer = await agent.get(f"/vouchers/batches/{batch}/{suffix}")
            assert answer.status_code == 404, (batch, suffix)

    technician = await signed_in(StaffRole.TECHNICIAN)
    refused = await technician.get(f"/vouchers/batches/{own_batch}/sheet")
    assert refused.status_code == 403
    anonymous = client_for(tenant.host)
    answer = await anonymous.get(f"/vouchers/batches/{own_batch}/sheet.pdf")
    assert answer.status_code in (302, 303, 401)
    assert not answer.content.startswith(b"%PDF")


def test_portal_url_for_code_keeps_scheme_host_and_port():
    assert (
        sheets.portal_url_for_code("https://isp.example", "AB23CD45")
        == "https://isp.example/portal/?code=AB23CD45"
    )
    assert (
        sheets.portal_url_for_code("http://mama.kiunga.localhost:8000/", "XY")
        == "http://mama.kiunga.localhost:8000/portal/?code=XY"
    )
    assert (
        sheets.portal_url_for_code("http://isp.example/vouchers/batches/1/sheet", "AB")
        == "http://isp.example/portal/?code=AB"
    )


def test_money_and_data_cap_as_printed():
    assert sheets.format_price(2_000, "KES") == "KES 20"
    assert sheets.format_price(2_050, "KES") == "KES 20.50"
    assert sheets.format_price(150_000, "KES") == "KES 1,500"
    assert sheets.format_price(500, "UGX") == "UGX 500"
    assert sheets.format_data_cap(None) is None
    assert sheets.format_data_cap(1_000_000_000) == "1 GB"
    assert sheets.format_data_cap(1_500_000_000) == "1.5 GB"
    assert sheets.format_data_cap(500_000_000) == "500 MB"


async def test_the_portals_title_names_the_isp_on_the_cards(add_package, unit_of_work, signed_in):
    package_id = await add_package()
    batch_id, _ = await add_batch(unit_of_work, package_id, [VoucherStatus.NEW])
    async with unit_of_work() as session:
        session.add(PortalSettings(id=1, title="Mama <Net> Wi-Fi"))
    owner = await signed_in(StaffRole.OWNER)
    html = (await owner.get(f"/vouchers/batches/{batch_id}/sheet")).text
    assert '<div class="isp">Mama &lt;Net&gt; Wi-Fi</div>' in html
    pdf = (await owner.get(f"/vouchers/batches/{batch_id}/sheet.pdf")).content
    assert b"(Mama <Net> Wi-Fi) Tj" in b"".join(pdf_streams(pdf))


def test_a_long_code_is_printed_whole_on_two_lines():
    code = "PREFIX12" + "ABCDEFGHJKMNPQRSTUVWXYZ2"
    card = sheets.Card(code, sheets.portal_url_for_code("https://isp.example", code))
    sheet = sheets.Sheet(1, "", "ISP", "1 Hour", "KES 20", "1 hour", None, [card])
    content = b"".join(pdf_streams(sheets.render_pdf(sheet)))
    halves = re.findall(rb"\(([A-Z0-9]{16})\) Tj", content)
    # The lower line is drawn first.
    assert halves == [code[16:].encode(), code[:16].encode()]
