"""Accounting spooled to files by the RADIUS workers and loaded by another process: records
come back exactly as taken, oldest file first; nothing is lost when writing fails or a
worker dies; a file is deleted only once every record in it was written."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime

from kiunga.integrations.radius.interfaces import AccountingRecord, AcctStatus
from kiunga.integrations.radius.spool import PART, READY, SpoolLoader, SpoolSink, decode, encode

RECEIVED = datetime(2026, 12, 1, 8, 30, 15, 250000, tzinfo=UTC)


def record(number: int, **changes) -> AccountingRecord:
    base = AccountingRecord(
        tenant_key="t_isp", router_id="7", nas_address="127.0.0.1",
        status=AcctStatus.INTERIM_UPDATE, session_id=f"s{number}", username=f"user{number}",
        nas_ip="10.0.0.1", nas_identifier="tower", framed_ip="100.64.0.9",
        calling_station_id="AA:BB", session_time=300 + number, input_octets=(1 << 32) + number,
        output_octets=5000, input_packets=None, output_packets=None, terminate_cause=None,
        event_time=None, delay_time=None, received_at=RECEIVED,
    )  # fmt: skip
    return replace(base, **changes)


def test_a_record_comes_back_from_its_line_as_it_was():
    stopped = record(1, status=AcctStatus.STOP, terminate_cause=1,
                     event_time=datetime(2026, 12, 1, 8, 30, tzinfo=UTC), delay_time=2)  # fmt: skip
    for original in (record(0), stopped, record(2, session_id=None, username=None)):
        assert decode(encode(original)) == original
    assert decode(encode(stopped)).terminate_cause_name == "User-Request"


async def test_spooled_records_are_loaded_in_order_and_their_files_removed(tmp_path):
    sink = SpoolSink(tmp_path, rotate_seconds=60, rotate_records=3)
    await sink.start()
    taken = [record(n) for n in range(8)]
    for one in taken:
        assert await sink.accept(one)
    await sink.close()
    assert len(list(tmp_path.glob(f"*{READY}"))) == 3 and not list(tmp_path.glob(f"*{PART}"))

    batches: list[list[AccountingRecord]] = []

    async def flush(batch):
        batches.append(list(batch))

    loader = SpoolLoader(tmp_path, flush, max_batch=2)
    assert await loader.load_ready() == 8
    assert [r for batch in batches for r in batch] == taken
    assert max(len(batch) for batch in batches) == 2
    assert not list(tmp_path.iterdir())


async def test_a_failed_write_keeps_the_file_for_the_next_try(tmp_path):
    sink = SpoolSink(tmp_path, rotate_seconds=60)
    await sink.start()
    for n in range(5):
        await sink.accept(record(n))
    await sink.close()
    written: list[AccountingRecord] = []
    failing = True
    tries = 0

    async def flush(batch):
        nonlocal tries
        tries += 1
        if failing:
            raise ConnectionError("the database is away")
        written.extend(batch)

    loader = SpoolLoader(tmp_path, flush, retry_seconds=0.01, idle_seconds=0.01)
    stop = asyncio.Event()
    running = asyncio.create_task(loader.run(stop))
    for _ in range(500):  # until it has failed twice
        if tries >= 2:
            break
        await asyncio.sleep(0.01)
    assert tries >= 2 and written == [] and len(list(tmp_path.glob(f"*{READY}"))) == 1
    failing = False
    for _ in range(500):
        if len(written) == 5:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await running
    assert written == [record(n) for n in range(5)]
    assert not list(tmp_path.iterdir())


def finished_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


async def test_the_file_of_a_worker_that_died_is_loaded_and_a_live_ones_is_not(tmp_path):
    orphan = tmp_path / f"{1:020d}-{finished_pid()}{PART}"
    orphan.write_bytes(encode(record(1)) + encode(record(2)))
    live = tmp_path / f"{2:020d}-{os.getpid()}{PART}"
    live.write_bytes(encode(record(3)))
    loaded: list[AccountingRecord] = []

    async def flush(batch):
        loaded.extend(batch)

    loader = SpoolLoader(tmp_path, flush)
    loader.adopt_orphans()
    assert await loader.load_ready() == 2
    assert loaded == [record(1), record(2)]
    assert live.exists()


async def test_stopping_the_loader_writes_what_was_handed_over_last(tmp_path):
    loaded: list[AccountingRecord] = []

    async def flush(batch):
        loaded.extend(batch)

    stop = asyncio.Event()
    loader = SpoolLoader(tmp_path, flush, idle_seconds=30)
    running = asyncio.create_task(loader.run(stop))
    await asyncio.sleep(0.05)  # the loader is idle, waiting
    sink = SpoolSink(tmp_path)
    await sink.start()
    await sink.accept(record(9))
    await sink.close()
    stop.set()
    await asyncio.wait_for(running, 60)
    assert loaded == [record(9)]
