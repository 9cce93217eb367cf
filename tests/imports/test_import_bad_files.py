"""The console's upload refuses files that are not CSV text with 400 and a reason (binary
data, a cell larger than any real one) and reads UTF-16 files as spreadsheets save them."""

from __future__ import annotations

import pytest
from kiunga.platform.models import StaffRole

CSV = "Name,Phone\nAmina Wanjiru,0712345678\n"


@pytest.fixture
async def upload(make_tenant, make_staff, client_for, login, csrf_token_in):
    tenant = make_tenant()
    admin = client_for(tenant.host)
    await login(admin, make_staff(tenant.id, StaffRole.ADMIN))
    token = csrf_token_in((await admin.get("/imports/subscribers")).text)

    async def send(content: bytes):
        files = {"file": ("customers.csv", content, "text/csv")}
        return await admin.post(
            "/imports/subscribers", data={"_csrf_token": token, "dry_run": "on"}, files=files
        )

    return send


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 50, "not a CSV text file"),
        (b"\xff\xfe\x00\x00" + "Name\n".encode("utf-32-le"), "not a CSV text file"),
        (("Name,Notes\nAmina," + "x" * 15_000_000 + "\n").encode(), "line 2"),
        (b"Name\nAm\x00ina\n", "not a CSV text file"),
    ],
    ids=["binary", "utf-32", "huge-cell", "nul"],
)
async def test_a_file_that_is_not_csv_text_is_refused_with_a_reason(upload, content, reason):
    answer = await upload(content)
    assert answer.status_code == 400, answer.text[:500]
    assert reason in answer.text


async def test_a_utf16_file_as_spreadsheets_save_it_is_read(upload):
    answer = await upload(CSV.replace(",", "\t").encode("utf-16"))
    assert answer.status_code == 200, answer.text[:500]
    assert "Dry run of" in answer.text and "Amina" not in answer.text.split("Dry run of")[0]
