"""Accounting spooled to local files before the NAS is answered, and loaded from them by
another process.

Writing accounting to a database in the RADIUS process makes every Interim-Update wait on
(and compete for the CPU with) that work. Like FreeRADIUS' detail file, `SpoolSink` instead
appends each record to a file with one `write` (in the kernel's hands before the answer: a
killed process loses nothing; a machine that loses power may lose what the kernel had not
written out), and `SpoolLoader`, in a process of its own, hands the files' records to the
real writer in batches.

Files: each RADIUS worker appends to `<ns>-<pid>.part`, renamed `.ready` every
`rotate_seconds` or `rotate_records`; the loader takes `.ready` files oldest first, and
deletes one only after every record in it was written. A loader that dies half-way
through a file gives it again whole next time, so the writer must store records
idempotently (Kiunga's does: totals only grow, usage is their growth). A `.part` file left
by a worker that died is made ready by the loader.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from kiunga.integrations.radius.interfaces import AccountingRecord, AcctStatus

log = logging.getLogger(__name__)

PART, READY = ".part", ".ready"
FIELDS = AccountingRecord.__slots__


def encode(record: AccountingRecord) -> bytes:
    values = []
    for name in FIELDS:
        value = getattr(record, name)
        if isinstance(value, datetime):
            value = value.timestamp()
        values.append(value)
    return json.dumps(values, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> AccountingRecord:
    values = dict(zip(FIELDS, json.loads(line), strict=True))
    values["status"] = AcctStatus(values["status"])
    for name in ("event_time", "received_at"):
        if values[name] is not None:
            values[name] = datetime.fromtimestamp(values[name], UTC)
    return AccountingRecord(**values)


class SpoolSink:
    """The `AccountingSink` of a RADIUS worker: each record appended to its spool file."""

    def __init__(
        self, directory: Path, *, rotate_seconds: float = 0.2, rotate_records: int = 2000
    ) -> None:
        self.directory = Path(directory)
        self.rotate_seconds = rotate_seconds
        self.rotate_records = rotate_records
        self._fd: int | None = None
        self._path: Path | None = None
        self._count = 0
        self._rotator: asyncio.Task | None = None

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._rotator is None:
            self._rotator = asyncio.create_task(self._rotate_forever(), name="radius-spool")

    async def accept(self, record: AccountingRecord) -> bool:
        try:
            if self._fd is None:
                self._open()
            os.write(self._fd, encode(record))
        except OSError:
            log.exception("accounting not spooled; the NAS will send it again")
            return False
        self._count += 1
        if self._count >= self.rotate_records:
            self.rotate()
        return True

    def rotate(self) -> None:
        """Hand the current file to the loader."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        self._path.rename(self._path.with_suffix(READY))

    async def close(self) -> None:
        if self._rotator is not None:
            self._rotator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rotator
            self._rotator = None
        self.rotate()

    def _open(self) -> None:
        self._path = self.directory / f"{time.time_ns():020d}-{os.getpid()}{PART}"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._count = 0

    async def _rotate_forever(self) -> None:
        while True:
            await asyncio.sleep(self.rotate_seconds)
            self.rotate()


Flush = Callable[[Sequence[AccountingRecord]], Awaitable[None]]


class SpoolLoader:
    """Hands spooled records to `flush` in batches of `max_batch`, oldest file first."""

    def __init__(
        self,
        directory: Path,
        flush: Flush,
        *,
        max_batch: int = 500,
        idle_seconds: float = 0.1,
        retry_seconds: float = 1.0,
    ) -> None:
        self.directory = Path(directory)
        self.flush = flush
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self.retry_seconds = retry_seconds
        self.loaded = 0

    def adopt_orphans(self) -> None:
        """`.part` files whose worker is gone are complete as they are."""
        for path in self.directory.glob(f"*{PART}"):
            pid_text = path.stem.rpartition("-")[2]
            if not (pid_text.isdigit() and _alive(int(pid_text))):
                with contextlib.suppress(FileNotFoundError):  # its worker rotated it just now
                    path.rename(path.with_suffix(READY))

    async def load_ready(self) -> int:
        """Every ready file, oldest first; the number of records written."""
        written = 0
        for path in sorted(self.directory.glob(f"*{READY}")):
            records = []
            for line in path.read_bytes().splitlines():
                try:
                    records.append(decode(line))
                except (ValueError, TypeError, KeyError):
                    log.error("unreadable spooled accounting line in %s dropped", path.name)
            for start in range(0, len(records), self.max_batch):
                await self.flush(records[start : start + self.max_batch])
            path.unlink()
            written += len(records)
            self.loaded += len(records)
        return written

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set, then once more for what the workers handed over last."""
        self.directory.mkdir(parents=True, exist_ok=True)
        while True:
            self.adopt_orphans()
            try:
                written = await self.load_ready()
            except Exception:
                log.exception("spooled accounting not written; trying again")
                written = 0
                await _wait(stop, self.retry_seconds)
            if stop.is_set():
                self.adopt_orphans()
                with contextlib.suppress(Exception):
                    await self.load_ready()
                return
            if not written:
                await _wait(stop, self.idle_seconds)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
