"""A 19 MB upload is decoded and checked on a worker thread, not on the event loop: while
it is being read the server answers other requests."""

from __future__ import annotations

import asyncio
import sys
import threading

from kiunga.platform.models import StaffRole

READERS = {"read_csv", "_clean_rows"}
# Generous: a busy 2-core machine may take many seconds to parse 19 MB.
PATIENCE_SECONDS = 300


def _reader_thread() -> int | None:
    """The id of a thread, other than this one, now inside the CSV reader, if any."""
    for thread_id, frame in sys._current_frames().items():
        if thread_id == threading.get_ident():
            continue
        while frame is not None:
            if frame.f_code.co_name in READERS:
                return thread_id
            frame = frame.f_back
    return None


def _csv_of_19_mb() -> bytes:
    notes = "n" * 900
    rows = [f"Subscriber {i},07{i:08d},{notes}" for i in range(20_500)]
    return ("Name,Phone,Notes\n" + "\n".join(rows) + "\n").encode()


async def test_a_large_upload_is_read_off_the_event_loop(
    make_tenant, make_staff, client_for, login, csrf_token_in
):
    tenant = make_tenant()
    admin = client_for(tenant.host)
    await login(admin, make_staff(tenant.id, StaffRole.ADMIN))
    token = csrf_token_in((await admin.get("/imports/subscribers")).text)
    content = _csv_of_19_mb()
    assert 18_000_000 < len(content) < 20 * 1024 * 1024
    upload = asyncio.create_task(
        admin.post(
            "/imports/subscribers",
            data={"_csrf_token": token, "dry_run": "on"},
            files={"file": ("big.csv", content, "text/csv")},
            timeout=PATIENCE_SECONDS,
        )
    )
    answered_while_reading = False
    async with asyncio.timeout(PATIENCE_SECONDS):
        while not upload.done():
            if _reader_thread() is not None:
                # This coroutine runs while another thread reads the file: the loop is
                # free, and a request made now is answered.
                health = await client_for(tenant.host).get("/healthz")
                answered_while_reading = health.status_code == 200
                break
            await asyncio.sleep(0)
    answer = await upload
    assert answer.status_code == 200, answer.text[:500]
    assert answered_while_reading, "the CSV was never read off the event loop's thread"
