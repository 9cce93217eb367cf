"""Accounting-Requests read into `AccountingRecord`s, and a sink that batches them.

`BatchingSink` collects records in memory and hands them to an async `flush` callback
(the database writer) when `max_batch` records are waiting or `max_delay` seconds have
passed since the first of them.

Loss window: with `wait_for_flush=False` (the default) a record counts as accepted as soon
as it is queued, so the NAS is answered and forgets it; records queued but not yet flushed
(at most `max_batch`, at most `max_delay` seconds old, more while a failing flush is
retried) are lost if the process dies. With `wait_for_flush=True` the answer waits until the
flush that carries the record has returned, so nothing answered is lost, at the price of up
to `max_delay` seconds of latency per request (NAS timeouts are usually 3 s or more).

Either way a record can reach the flush twice: the server recognises a retransmission only
while it remembers the request (a few seconds), and a NAS may resend older records after a
reboot. The writer should store records idempotently, keyed on (tenant, session id, status,
session time or event time).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from kiunga.integrations.radius import wire
from kiunga.integrations.radius.interfaces import AccountingRecord, AcctStatus, RadiusClient

log = logging.getLogger(__name__)

_GIGAWORD = 1 << 32


def _optional(attributes: dict[int, bytes], kind: int, read: Callable[[bytes], object]):
    value = attributes.get(kind)
    return None if value is None else read(value)


def _octets(attributes: dict[int, bytes], octets: int, gigawords: int) -> int | None:
    low = attributes.get(octets)
    high = attributes.get(gigawords)
    if low is None and high is None:
        return None
    total = wire.read_integer(low) if low is not None else 0
    if high is not None:
        total += wire.read_integer(high) * _GIGAWORD
    return total


def read_record(
    client: RadiusClient, source_ip: str, attributes: dict[int, bytes]
) -> AccountingRecord:
    status_value = attributes.get(wire.ACCT_STATUS_TYPE)
    if status_value is None:
        raise wire.Malformed("Accounting-Request without Acct-Status-Type")
    try:
        status = AcctStatus(wire.read_integer(status_value))
    except ValueError as unknown:
        raise wire.Malformed(f"Acct-Status-Type {status_value.hex()}") from unknown
    read_int = wire.read_integer
    read_text = wire.read_text
    timestamp = attributes.get(wire.EVENT_TIMESTAMP)
    return AccountingRecord(
        tenant_key=client.tenant_key,
        router_id=client.router_id,
        nas_address=source_ip,
        status=status,
        session_id=_optional(attributes, wire.ACCT_SESSION_ID, read_text),
        username=_optional(attributes, wire.USER_NAME, read_text),
        nas_ip=_optional(attributes, wire.NAS_IP_ADDRESS, wire.read_ipv4),
        nas_identifier=_optional(attributes, wire.NAS_IDENTIFIER, read_text),
        framed_ip=_optional(attributes, wire.FRAMED_IP_ADDRESS, wire.read_ipv4),
        calling_station_id=_optional(attributes, wire.CALLING_STATION_ID, read_text),
        session_time=_optional(attributes, wire.ACCT_SESSION_TIME, read_int),
        input_octets=_octets(attributes, wire.ACCT_INPUT_OCTETS, wire.ACCT_INPUT_GIGAWORDS),
        output_octets=_octets(attributes, wire.ACCT_OUTPUT_OCTETS, wire.ACCT_OUTPUT_GIGAWORDS),
        input_packets=_optional(attributes, wire.ACCT_INPUT_PACKETS, read_int),
        output_packets=_optional(attributes, wire.ACCT_OUTPUT_PACKETS, read_int),
        terminate_cause=_optional(attributes, wire.ACCT_TERMINATE_CAUSE, read_int),
        event_time=(
            None if timestamp is None else datetime.fromtimestamp(wire.read_integer(timestamp), UTC)
        ),
        delay_time=_optional(attributes, wire.ACCT_DELAY_TIME, read_int),
        received_at=datetime.now(UTC),
    )


FlushCallback = Callable[[Sequence[AccountingRecord]], Awaitable[None]]


class BatchingSink:
    """An `AccountingSink` that hands records to `flush` in batches (see the module notes
    for the loss window). A failing flush is logged and retried with the same records
    (plus any that arrived meanwhile) after `retry_delay`; `max_pending` bounds memory: past
    it, `accept` answers False and the NAS retries later.

    Use inside a running event loop; `close()` flushes what is left.
    """

    def __init__(
        self,
        flush: FlushCallback,
        *,
        max_batch: int = 500,
        max_delay: float = 1.0,
        wait_for_flush: bool = False,
        max_pending: int = 50_000,
        retry_delay: float = 1.0,
    ) -> None:
        self._flush = flush
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.wait_for_flush = wait_for_flush
        self.max_pending = max_pending
        self.retry_delay = retry_delay
        self._pending: list[AccountingRecord] = []
        self._waiters: list[asyncio.Future[bool]] = []
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self._first_at = 0.0
        self.flushed = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        if self._runner is None:
            self._wake = asyncio.Event()
            self._runner = asyncio.create_task(self._run(), name="radius-accounting-flush")

    async def accept(self, record: AccountingRecord) -> bool:
        if self._closing or len(self._pending) >= self.max_pending:
            return False
        if self._runner is None:
            await self.start()
        if not self._pending:
            self._first_at = asyncio.get_running_loop().time()
            self._wake.set()
        self._pending.append(record)
        if len(self._pending) >= self.max_batch:
            self._wake.set()
        if not self.wait_for_flush:
            return True
        done = asyncio.get_running_loop().create_future()
        self._waiters.append(done)
        return await done

    async def flush_now(self) -> None:
        """Flush what is queued (raises if the callback fails)."""
        if self._pending:
            await self._flush_batch()

    async def close(self) -> None:
        self._closing = True
        if self._runner is not None:
            self._wake.set()
            await self._runner
            self._runner = None
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(False)
        self._waiters.clear()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            if not self._pending:
                if self._closing:
                    return
                await self._wake.wait()
                continue
            deadline = self._first_at + self.max_delay
            while len(self._pending) < self.max_batch and not self._closing:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    break
            try:
                await self._flush_batch()
            except Exception:
                if self._closing:
                    log.exception("accounting flush failed on close; %d records lost", self.pending)
                    return
                log.exception("accounting flush failed; retrying")
                await asyncio.sleep(self.retry_delay)
            self._first_at = loop.time()

    async def _flush_batch(self) -> None:
        batch = self._pending[: self.max_batch]
        waiters = self._waiters[: len(batch)] if self.wait_for_flush else []
        await self._flush(batch)
        del self._pending[: len(batch)]
        del self._waiters[: len(waiters)]
        self.flushed += len(batch)
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(True)
