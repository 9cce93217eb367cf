"""Accounting-Requests into each ISP's schema, in batches.

`AccountingWriter` is the RADIUS server's `AccountingSink`: a `BatchingSink` whose flush
writes each ISP's records in one transaction of its own. Writes are upserts that can be
repeated (a failed flush is retried whole): a session's octet totals only grow (GREATEST),
and the usage a record adds is its totals minus what the session had already counted, so
a retransmitted or replayed Interim-Update adds nothing.

- Start / Interim-Update / Stop: `radius_sessions` keyed by (router, Acct-Session-Id);
  the growth goes to `usage_daily` (the record's UTC day) and `usage_periods` (the
  service's current billed period).
- Accounting-On / Accounting-Off: the NAS restarted or is stopping; its open sessions are
  closed as of the record's time.
- A service whose period usage reaches its package's data cap gets `cap_reached_at` and a
  `service.cap_reached` event (the worker then throttles or disconnects it).
- Services whose usage changed and have a cap are NOTIFYed to the subscriber caches, so
  Mikrotik-Total-Limit on the next Access-Accept is what is left.
- Hotspot services whose sessions were written are NOTIFYed too (the caches read their
  open sessions again: a package's shared_users counts them), and a NAS restart reloads
  the ISP's cache (its sessions were closed).
- A session of a redeemed voucher with no accepted login yet starts the voucher's validity
  at the session's start (vouchers.first_login), before its usage is counted.
- A voucher's service that reaches its cap with no fair-usage rate ends with its voucher
  (used up); see vouchers.ending.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from kiunga.integrations.radius.accounting import BatchingSink
from kiunga.integrations.radius.interfaces import AccountingRecord, AcctStatus
from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import TENANT_SCHEMA_KEY, Database
from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.catalog.models import Package, ServiceType
from kiunga.tenants.network.radius.authorizer import USAGE_PREFIX, USERS_CHANNEL
from kiunga.tenants.network.radius.models import RadiusSession, UsageDaily, UsagePeriod
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.vouchers.ending import use_up_vouchers_of
from kiunga.tenants.vouchers.first_login import start_at_first_login
from sqlalchemy import bindparam, case, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("kiunga.radius")

CAP_REACHED = "service.cap_reached"
STALE = "Stale"  # the terminate cause of a session closed for silence
NAS_RESTART = {AcctStatus.ACCOUNTING_ON: "NAS-Reboot", AcctStatus.ACCOUNTING_OFF: "NAS-Request"}


def record_time(record: AccountingRecord) -> datetime:
    if record.event_time is not None:
        return record.event_time
    return record.received_at - timedelta(seconds=record.delay_time or 0)


class AccountingWriter:
    """The `AccountingSink` of `kiunga radius` (see the module notes)."""

    def __init__(
        self,
        database_url: str,
        *,
        max_batch: int = 500,
        max_delay: float = 1.0,
        wait_for_flush: bool = False,
    ) -> None:
        self.database_url = database_url
        self._database: Database | None = None
        self.sink = BatchingSink(
            self.write, max_batch=max_batch, max_delay=max_delay, wait_for_flush=wait_for_flush
        )

    async def start(self) -> None:
        if self._database is None:
            self._database = Database(self.database_url, pool_size=4)
        await self.sink.start()

    async def accept(self, record: AccountingRecord) -> bool:
        return await self.sink.accept(record)

    async def close(self) -> None:
        await self.sink.close()
        if self._database is not None:
            await self._database.dispose()
            self._database = None

    async def write(self, batch: Sequence[AccountingRecord]) -> None:
        assert self._database is not None
        by_tenant: dict[str, list[AccountingRecord]] = {}
        for record in batch:
            by_tenant.setdefault(record.tenant_key, []).append(record)
        failed = None
        for schema, records in by_tenant.items():
            try:
                async with self._database.tenant_session(schema) as session, session.begin():
                    await write_records(session, records)
            except Exception as exc:  # the others are written; the retry repeats them harmlessly
                log.exception("accounting for %s not written", schema)
                failed = exc
        if failed is not None:
            raise failed


@dataclass
class _Merged:
    """What one batch says about one session."""

    router_id: int
    session_id: str
    username: str | None
    nas_address: str
    framed_ip: str | None
    calling_station_id: str | None
    first_at: datetime
    last_at: datetime
    session_time: int | None
    input_octets: int
    output_octets: int
    stopped_at: datetime | None
    terminate_cause: str | None


async def write_records(session: AsyncSession, records: Sequence[AccountingRecord]) -> None:
    """One ISP's records, in order: runs of session records, split at Accounting-On/Off."""
    run: list[AccountingRecord] = []
    for record in records:
        if record.status in NAS_RESTART:
            await _write_sessions(session, run)
            run = []
            await close_router_sessions(
                session,
                int(record.router_id),
                at=record_time(record),
                cause=NAS_RESTART[record.status],
            )
        elif record.session_id:
            run.append(record)
    await _write_sessions(session, run)


async def notify_services(session: AsyncSession, service_ids: set[int] | None) -> None:
    """Have the RADIUS caches read these services again (None: the whole ISP)."""
    schema = session.info[TENANT_SCHEMA_KEY]
    ids = sorted(service_ids or ())
    if service_ids is None:
        payloads = [schema]
    else:
        payloads = [
            f"{schema}:{','.join(map(str, ids[start : start + 500]))}"
            for start in range(0, len(ids), 500)
        ]
    for payload in payloads:
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": USERS_CHANNEL, "payload": payload},
        )


async def close_router_sessions(
    session: AsyncSession, router_id: int, *, at: datetime, cause: str
) -> int:
    result = await session.execute(
        update(RadiusSession)
        .where(
            RadiusSession.router_id == router_id,
            RadiusSession.stopped_at.is_(None),
            RadiusSession.started_at <= at,
        )
        .values(stopped_at=at, terminate_cause=cause)
    )
    if result.rowcount:
        await notify_services(session, None)
    return result.rowcount


def _merge(records: Sequence[AccountingRecord]) -> dict[tuple[int, str], _Merged]:
    merged: dict[tuple[int, str], _Merged] = {}
    for record in records:
        at = record_time(record)
        key = (int(record.router_id), record.session_id)
        started = at - timedelta(seconds=record.session_time or 0)
        entry = merged.get(key)
        if entry is None:
            entry = merged[key] = _Merged(
                router_id=key[0],
                session_id=record.session_id,
                username=record.username,
                nas_address=record.nas_address,
                framed_ip=record.framed_ip,
                calling_station_id=record.calling_station_id,
                first_at=started,
                last_at=at,
                session_time=record.session_time,
                input_octets=0,
                output_octets=0,
                stopped_at=None,
                terminate_cause=None,
            )
        entry.first_at = min(entry.first_at, started)
        entry.last_at = max(entry.last_at, at)
        entry.username = entry.username or record.username
        entry.framed_ip = record.framed_ip or entry.framed_ip
        if record.session_time is not None:
            entry.session_time = max(entry.session_time or 0, record.session_time)
        entry.input_octets = max(entry.input_octets, record.input_octets or 0)
        entry.output_octets = max(entry.output_octets, record.output_octets or 0)
        if record.status is AcctStatus.STOP:
            entry.stopped_at = at
            entry.terminate_cause = record.terminate_cause_name
    return merged


async def _write_sessions(session: AsyncSession, records: Sequence[AccountingRecord]) -> None:
    if not records:
        return
    merged = _merge(records)
    names = {entry.username for entry in merged.values() if entry.username}
    services = await _services_by_login(session, names)
    if await _start_vouchers(session, merged, services):
        services = await _services_by_login(session, names)  # with their periods moved
    existing = {
        (row.router_id, row.acct_session_id): row
        for row in await session.execute(
            select(
                RadiusSession.router_id,
                RadiusSession.acct_session_id,
                RadiusSession.service_id,
                RadiusSession.input_octets,
                RadiusSession.output_octets,
                RadiusSession.id,
                RadiusSession.stopped_at,
            )
            .where(tuple_(RadiusSession.router_id, RadiusSession.acct_session_id).in_(list(merged)))
            .with_for_update()
        )
    }
    await _set_aside_reused_ids(session, merged, existing)
    rows = []
    hotspot: set[int] = set()
    daily: dict[tuple[int, date], list[int]] = {}
    periods: dict[tuple[int, datetime], list[int]] = {}
    for key, entry in merged.items():
        old = existing.get(key)
        service = services.get(entry.username.lower()) if entry.username else None
        service_id = old.service_id if old is not None and old.service_id else None
        if service_id is None and service is not None:
            service_id = service.id
        rows.append(
            {
                "router_id": entry.router_id,
                "acct_session_id": entry.session_id,
                "username": entry.username,
                "service_id": service_id,
                "nas_address": entry.nas_address,
                "framed_ip": entry.framed_ip,
                "calling_station_id": entry.calling_station_id,
                "started_at": entry.first_at,
                "updated_at": entry.last_at,
                "stopped_at": entry.stopped_at,
                "session_time": entry.session_time,
                "input_octets": entry.input_octets,
                "output_octets": entry.output_octets,
                "terminate_cause": entry.terminate_cause,
            }
        )
        if service is not None and service.id == service_id:
            if service.service_type == ServiceType.HOTSPOT:
                hotspot.add(service_id)
        grown_in = max(0, entry.input_octets - (old.input_octets if old is not None else 0))
        grown_out = max(0, entry.output_octets - (old.output_octets if old is not None else 0))
        if not (grown_in or grown_out) or service is None or service.id != service_id:
            continue
        day = entry.last_at.astimezone(UTC).date()
        totals = daily.setdefault((service.id, day), [service.subscriber_id, 0, 0])
        totals[1] += grown_in
        totals[2] += grown_out
        if service.period_start is not None:
            totals = periods.setdefault((service.id, service.period_start), [0, 0])
            totals[0] += grown_in
            totals[1] += grown_out
    await _upsert_sessions(session, rows)
    if hotspot:
        await notify_services(session, hotspot)
    if daily:
        await _add_daily(session, daily)
    if periods:
        capped = {row.id: row for row in services.values() if row.data_cap_bytes is not None}
        await _add_period_usage(session, periods, capped)


async def _start_vouchers(session: AsyncSession, merged: dict, services: dict) -> bool:
    """A session of a redeemed voucher that had no accepted login yet starts its validity
    (as of the session's start); True when a service's period may have moved."""
    logins: dict[int, datetime] = {}
    for entry in merged.values():
        service = services.get(entry.username.lower()) if entry.username else None
        if service is None or service.auto_renew or service.service_type != ServiceType.HOTSPOT:
            continue
        logins[service.id] = min(entry.first_at, logins.get(service.id, entry.first_at))
    if not logins:
        return False
    # Whether this started them or a RADIUS worker's Access-Accept did meanwhile, the
    # periods are read again (the vouchers' rows were locked until that one committed).
    await start_at_first_login(session, logins)
    return True


async def _set_aside_reused_ids(session: AsyncSession, merged: dict, existing: dict) -> None:
    """A router's session ids restart after a reboot, so an id may come back for a new
    session. A session that began after the stored one with its id had stopped is new: the
    stored row keeps its history under `<id>#<row id>` and the new one starts from zero."""
    for key, entry in merged.items():
        old = existing.get(key)
        if old is None or old.stopped_at is None or entry.first_at < old.stopped_at:
            continue
        await session.execute(
            update(RadiusSession)
            .where(RadiusSession.id == old.id)
            .values(acct_session_id=f"{old.acct_session_id[:200]}#{old.id}")
        )
        del existing[key]


async def _services_by_login(session: AsyncSession, names: set[str]) -> dict:
    """Live services by lower-cased login: exact names first (the index), then any left
    over regardless of case (logins are unique per ISP regardless of case)."""
    found: dict = {}
    for column, wanted in (
        (Service.username, names),
        (func.lower(Service.username), {name.lower() for name in names}),
    ):
        wanted = {name for name in wanted if name.lower() not in found}
        if not wanted:
            break
        rows = await session.execute(
            select(
                Service.id,
                Service.subscriber_id,
                Service.username,
                Service.period_start,
                Service.service_type,
                Service.auto_renew,
                Package.data_cap_bytes,
                Package.fup_rate_limit,
            )
            .join(Package, Package.id == Service.package_id)
            .where(column.in_(wanted), Service.status != ServiceStatus.TERMINATED)
        )
        found.update({row.username.lower(): row for row in rows})
    return found


def _insert_batch(model, rows: list[dict]):
    """INSERT … SELECT unnest(<one array per column>): a whole batch as one statement that
    PostgreSQL plans and runs once, rather than one execution per row."""
    table = model.__table__
    columns = list(rows[0])
    arrays = [
        func.unnest(
            bindparam(
                f"{name}_batch",
                value=[row[name] for row in rows],
                type_=ARRAY(table.c[name].type),
            )
        )
        for name in columns
    ]
    return insert(model).from_select(columns, select(*arrays))


async def _upsert_sessions(session: AsyncSession, rows: list[dict]) -> None:
    statement = _insert_batch(RadiusSession, rows)
    new = statement.excluded
    table = RadiusSession.__table__.c
    revived = (table.terminate_cause == STALE) & (new.updated_at > table.stopped_at)
    upsert = statement.on_conflict_do_update(
        index_elements=[table.router_id, table.acct_session_id],
        set_={
            "username": func.coalesce(table.username, new.username),
            "service_id": func.coalesce(table.service_id, new.service_id),
            "framed_ip": func.coalesce(new.framed_ip, table.framed_ip),
            "calling_station_id": func.coalesce(table.calling_station_id, new.calling_station_id),
            "started_at": func.least(table.started_at, new.started_at),
            "updated_at": func.greatest(table.updated_at, new.updated_at),
            # A session closed as stale that reports again was alive after all.
            "stopped_at": case(
                (revived, new.stopped_at), else_=func.coalesce(table.stopped_at, new.stopped_at)
            ),
            "terminate_cause": case(
                (revived, new.terminate_cause),
                else_=func.coalesce(table.terminate_cause, new.terminate_cause),
            ),
            "session_time": func.greatest(table.session_time, new.session_time),
            "input_octets": func.greatest(table.input_octets, new.input_octets),
            "output_octets": func.greatest(table.output_octets, new.output_octets),
        },
    )
    await session.execute(upsert)


async def _add_daily(session: AsyncSession, daily: dict[tuple[int, date], list[int]]) -> None:
    rows = [
        {
            "service_id": service_id,
            "day": day,
            "subscriber_id": subscriber_id,
            "input_octets": grown_in,
            "output_octets": grown_out,
        }
        for (service_id, day), (subscriber_id, grown_in, grown_out) in sorted(daily.items())
    ]
    statement = _insert_batch(UsageDaily, rows)
    table = UsageDaily.__table__.c
    upsert = statement.on_conflict_do_update(
        index_elements=[table.service_id, table.day],
        set_={
            "input_octets": table.input_octets + statement.excluded.input_octets,
            "output_octets": table.output_octets + statement.excluded.output_octets,
        },
    )
    await session.execute(upsert)


async def _add_period_usage(
    session: AsyncSession, periods: dict[tuple[int, datetime], list[int]], capped: dict
) -> None:
    rows = [
        {
            "service_id": service_id,
            "period_start": period_start,
            "input_octets": grown_in,
            "output_octets": grown_out,
        }
        for (service_id, period_start), (grown_in, grown_out) in sorted(periods.items())
    ]
    statement = _insert_batch(UsagePeriod, rows)
    table = UsagePeriod.__table__.c
    upsert = statement.on_conflict_do_update(
        index_elements=[table.service_id, table.period_start],
        set_={
            "input_octets": table.input_octets + statement.excluded.input_octets,
            "output_octets": table.output_octets + statement.excluded.output_octets,
        },
    ).returning(
        table.service_id,
        table.period_start,
        table.input_octets + table.output_octets,
        table.cap_reached_at,
    )
    over: dict[tuple[int, datetime], int] = {}
    usage: list[tuple[int, datetime, int]] = []
    for service_id, period_start, used, reached_at in await session.execute(upsert):
        service = capped.get(service_id)
        if service is None:
            continue
        usage.append((service_id, period_start, used))
        if reached_at is None and used >= service.data_cap_bytes:
            over[(service_id, period_start)] = used
    if over:
        # Marked once per period: a concurrent flush that got there first keeps its mark.
        marked = await session.execute(
            update(UsagePeriod)
            .where(
                tuple_(UsagePeriod.service_id, UsagePeriod.period_start).in_(list(over)),
                UsagePeriod.cap_reached_at.is_(None),
            )
            .values(cap_reached_at=func.now())
            .returning(UsagePeriod.service_id, UsagePeriod.period_start)
        )
        marked = sorted(marked.all())
        ending = [sid for sid, _ in marked if capped[sid].fup_rate_limit is None]
        await use_up_vouchers_of(session, ending, now=utcnow(), reason="voucher data used up")
        for service_id, period_start in marked:
            service = capped[service_id]
            await emit(
                session,
                CAP_REACHED,
                {
                    "service_id": service_id,
                    "subscriber_id": service.subscriber_id,
                    "period_start": period_start.isoformat(),
                    "used_bytes": over[(service_id, period_start)],
                    "cap_bytes": service.data_cap_bytes,
                    "action": "disconnect" if service.fup_rate_limit is None else "throttle",
                },
            )
    if usage:
        await notify_usage(session, usage)


async def notify_usage(session: AsyncSession, usage: Sequence[tuple[int, datetime, int]]) -> None:
    """Tell the RADIUS servers' caches the capped services' new period usage (on commit),
    in the NOTIFY itself, so that they need not read the services again."""
    schema = session.info[TENANT_SCHEMA_KEY]
    entries = [f"{sid}@{period.timestamp()!r}={used}" for sid, period, used in sorted(usage)]
    for start in range(0, len(entries), 150):  # a NOTIFY payload is under 8,000 bytes
        chunk = ",".join(entries[start : start + 150])
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": USERS_CHANNEL, "payload": f"{schema}:{USAGE_PREFIX}{chunk}"},
        )
