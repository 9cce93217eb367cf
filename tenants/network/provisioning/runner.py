"""Applying a router's pending commands, in order.

`apply_pending` runs in the caller's transaction (an outbox handler's, so that the commands
it just queued are applied before they are even committed, or one of the per-minute job's):
it takes a transaction-scoped advisory lock on the router, so one process at a time talks
to one router, and gives up at once when another holds it (that one is applying the same
queue). The router is then asked inside the transaction, for a few seconds at most
(`CONNECT_TIMEOUT`); the lock is all that is held meanwhile.

What happens to a command:

- applied: done, with a summary of what changed ("nothing to change" the second time);
- the router did not answer, or refused the login: it stays pending, untouched, with the
  error; so do all the commands after it, and the run ends. They are applied in order when
  the router is back, however long that takes: nothing is lost;
- the router refused a change (a !trap, a name taken by an item not Kiunga's) or a service
  could not be provisioned: the rest of the command is still applied, the error is kept, and
  it is tried again after 30 s, 1, 2, 4 minutes; after `MAX_ATTEMPTS` tries it is failed.
  Later commands do not wait for it: each one brings its own part of the router in line.

Every error is also recorded on the router (its last error, shown in the console).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kiunga.integrations.routeros.client import (
    RouterAuthFailed,
    RouterCertificateRefused,
    RouterConnection,
    RouterError,
    RouterOSClient,
    RouterUnreachable,
)
from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import TENANT_SCHEMA_KEY, Database
from kiunga.tenants.network import service as network_service
from kiunga.tenants.network.models import Router
from kiunga.tenants.network.provisioning.desired import (
    api_routers_query,
    desired_state,
    service_key,
)
from kiunga.tenants.network.provisioning.diff import (
    ProvisioningRefused,
    apply_plan,
    plan,
    read_all,
    read_keys,
    service_keys,
)
from kiunga.tenants.network.provisioning.models import (
    CommandKind,
    CommandStatus,
    RouterCommand,
)
from kiunga.tenants.network.provisioning.queue import enqueue_sync_all
from kiunga.tenants.network.status import aimed, connection_for, describe
from kiunga.tenants.network.validation import RouterError as RouterInputError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("kiunga.network.provisioning")

ClientFactory = Callable[[RouterConnection, str], RouterOSClient]

MAX_ATTEMPTS = 5
RETRY_AFTER = timedelta(seconds=30)
CONNECT_TIMEOUT = 6.0
# After a router did not answer, event handlers leave it to the per-minute run this long.
UNREACHABLE_PAUSE = timedelta(seconds=50)
# How long an event handler waits for another run on the same router to finish.
HANDLER_WAIT_SECONDS = 20.0
BATCH = 100
MAX_TEXT = 2000
# Finished commands are kept this long (for the console and the API), then forgotten.
KEEP_FINISHED = timedelta(days=30)
# Routers of one ISP worked on at once by the per-minute job.
CONCURRENCY = 4


def routeros_client(connection: RouterConnection, tenant: str) -> RouterOSClient:
    return RouterOSClient(connection, tenant=tenant)


@dataclass
class RunReport:
    applied: int = 0
    refused: int = 0
    failed: int = 0
    # The router did not answer (or refused the login): its commands wait.
    unreachable: bool = False
    # Another process holds this router's queue.
    busy: bool = False

    def as_dict(self) -> dict[str, int | bool]:
        return dict(self.__dict__)


async def _lock_router(session: AsyncSession, router_id: int) -> bool:
    schema = session.info.get(TENANT_SCHEMA_KEY, "")
    name = f"kiunga:router_commands:{schema}:{router_id}"
    return bool(
        await session.scalar(select(func.pg_try_advisory_xact_lock(func.hashtextextended(name, 0))))
    )


async def _wait_for_router(session: AsyncSession, router_id: int, wait_seconds: float) -> bool:
    deadline = time.monotonic() + wait_seconds
    pause = 0.05
    while not await _lock_router(session, router_id):
        if time.monotonic() + pause > deadline:
            return False
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.5)
    return True


def _just_unreachable(router: Router, now: datetime) -> bool:
    if router.online or router.last_error_at is None or router.last_error is None:
        return False
    unreachable = router.last_error.startswith(("Unreachable", "Wrong credentials", "Refused"))
    return unreachable and now - router.last_error_at < UNREACHABLE_PAUSE


def _ready(router_id: int, now: datetime, skip: set[int]):
    query = (
        select(RouterCommand)
        .where(
            RouterCommand.router_id == router_id,
            RouterCommand.status == CommandStatus.PENDING,
            or_(RouterCommand.next_attempt_at.is_(None), RouterCommand.next_attempt_at <= now),
        )
        .order_by(RouterCommand.sequence)
        .limit(BATCH)
    )
    if skip:
        query = query.where(RouterCommand.id.not_in(skip))
    return query


async def apply_pending(
    session: AsyncSession,
    tenant: str,
    router_id: int,
    *,
    client_factory: ClientFactory = routeros_client,
    now: datetime | None = None,
    wait_seconds: float = 0.0,
    skip_if_just_unreachable: bool = False,
) -> RunReport:
    """Applies the router's ready commands in order, in the caller's transaction.

    `wait_seconds`: how long to wait for another run on this router to finish (an event
    handler waits, so that its commands, which that run cannot see, are applied now rather
    than by the next minute's run). `skip_if_just_unreachable`: leave the commands to the
    per-minute run when the router did not answer moments ago (a burst of events for an
    offline router must not each wait for the connection to time out)."""
    report = RunReport()
    now = now or utcnow()
    if not await _wait_for_router(session, router_id, wait_seconds):
        report.busy = True
        return report
    tried: set[int] = set()
    commands = list(await session.scalars(_ready(router_id, now, tried)))
    if not commands:
        return report
    router = await session.get(Router, router_id)
    in_scope = await session.scalar(api_routers_query().where(Router.id == router_id))
    if router is None or in_scope is None:
        return report  # no longer driven over the API: the commands wait
    if skip_if_just_unreachable and _just_unreachable(router, now):
        # Nothing new is known of the router: only the commands say why they wait.
        await _unreachable(session, router, commands[0], router.last_error or "", report, False)
        return report
    try:
        connection = await aimed(connection_for(router, timeout=CONNECT_TIMEOUT))
    except ValueError as exc:  # no usable API login or a refused address (RouterInputError)
        message = exc.message if isinstance(exc, RouterInputError) else str(exc)
        await _unreachable(session, router, commands[0], f"Cannot log in: {message}", report)
        return report
    except RouterUnreachable as error:
        await _unreachable(session, router, commands[0], describe(error, _typed(router)), report)
        return report
    client = client_factory(connection, tenant)
    try:
        while commands:
            for command in commands:
                tried.add(command.id)
                if not await _apply_one(session, client, router, tenant, command, now, report):
                    return report
            # Commands queued while these ran (and committed since) are taken too.
            commands = list(await session.scalars(_ready(router_id, now, tried)))
        router.last_seen_at = utcnow()
        await session.flush()
        if connection.tls:
            await network_service.pin_certificate(
                session, router.id, getattr(client, "certificate_fingerprint", None)
            )
    finally:
        await client.close()
    return report


def _typed(router: Router) -> str:
    return f"{router.address}:{router.api_port}"


async def _apply_one(
    session: AsyncSession,
    client: RouterOSClient,
    router: Router,
    tenant: str,
    command: RouterCommand,
    now: datetime,
    report: RunReport,
) -> bool:
    """Applies one command and records how it went; False ends the run."""
    try:
        done = await execute(session, client, router, tenant, command)
    except (RouterUnreachable, RouterAuthFailed, RouterCertificateRefused) as error:
        if isinstance(error, RouterCertificateRefused):
            await network_service.record_certificate_refused(session, router.id, error.presented)
        await _unreachable(session, router, command, describe(error, _typed(router)), report)
        return False
    except ProvisioningRefused as refused:
        await _refused(session, router, command, "; ".join(refused.problems), refused.done, now)
        report.failed += command.status is CommandStatus.FAILED
        report.refused += command.status is CommandStatus.PENDING
        return True
    except RouterError as error:
        await _refused(session, router, command, describe(error), [], now)
        report.failed += command.status is CommandStatus.FAILED
        report.refused += command.status is CommandStatus.PENDING
        return True
    except (SQLAlchemyError, asyncio.CancelledError):
        raise
    except Exception as error:  # a bug or bad data must not hold the whole queue
        log.exception("router %s: command %s could not be applied", router.id, command.id)
        await _refused(session, router, command, f"{type(error).__name__}: {error}", [], now)
        report.failed += command.status is CommandStatus.FAILED
        report.refused += command.status is CommandStatus.PENDING
        return True
    command.status = CommandStatus.DONE
    command.attempts += 1
    command.done_at = utcnow()
    command.last_error = None
    command.next_attempt_at = None
    command.summary = _text("; ".join(done) or "nothing to change")
    await session.flush()
    report.applied += 1
    return True


async def execute(
    session: AsyncSession,
    client: RouterOSClient,
    router: Router,
    tenant: str,
    command: RouterCommand,
) -> list[str]:
    """Brings the router in line for one command; returns what was changed."""
    if command.kind is CommandKind.SYNC_ALL:
        desired = await desired_state(session, tenant, router)
        held = await read_all(client)
        work = plan(client, desired, held, remove_unwanted_profiles=True)
        few_logins = False
    else:  # sync_service and cut_session: the service's items and sessions as it is now
        service_id = int(command.payload["service_id"])
        desired = await desired_state(session, tenant, router, service_id=service_id)
        held = await read_keys(client, service_keys(desired, service_key(service_id)))
        work = plan(client, desired, held, remove_unwanted_profiles=False)
        few_logins = True
    try:
        done = await apply_plan(client, work, few_logins=few_logins)
    except ProvisioningRefused as refused:
        raise ProvisioningRefused(desired.problems + refused.problems, refused.done) from None
    if desired.problems:
        raise ProvisioningRefused(desired.problems, done)
    return done


async def _unreachable(
    session: AsyncSession,
    router: Router,
    command: RouterCommand,
    message: str,
    report: RunReport,
    on_router: bool = True,
) -> None:
    # Every command waiting for this router waits for the same reason.
    await session.execute(
        update(RouterCommand)
        .where(
            RouterCommand.router_id == router.id,
            RouterCommand.status == CommandStatus.PENDING,
            RouterCommand.attempts == 0,
        )
        .values(last_error=_text(message))
        .execution_options(synchronize_session=False)
    )
    command.last_error = _text(message)
    if on_router:
        await network_service.record_error(session, router.id, message)
    report.unreachable = True


async def _refused(
    session: AsyncSession,
    router: Router,
    command: RouterCommand,
    message: str,
    done: list[str],
    now: datetime,
) -> None:
    command.attempts += 1
    command.last_error = _text(message)
    if done:
        command.summary = _text("; ".join(done))
    if command.attempts >= MAX_ATTEMPTS:
        command.status = CommandStatus.FAILED
        command.done_at = utcnow()
        command.next_attempt_at = None
    else:
        command.next_attempt_at = now + RETRY_AFTER * 2 ** (command.attempts - 1)
    await network_service.record_error(session, router.id, f"Provisioning: {message}")


def _text(value: str) -> str:
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


# ---------------------------------------------------------------------------------------
# One ISP, every router: the per-minute job and "Sync now"


async def run_queues(
    database: Database,
    schema: str,
    tenant: str,
    *,
    full_sync: bool = False,
    client_factory: ClientFactory = routeros_client,
    concurrency: int = CONCURRENCY,
) -> dict[str, int]:
    """Applies every api-mode router's ready commands, each router in a transaction of its
    own; with `full_sync`, queues a sync_all on each first."""
    async with database.tenant_session(schema) as session, session.begin():
        router_ids = list(await session.scalars(api_routers_query().with_only_columns(Router.id)))
        if full_sync:
            for router_id in router_ids:
                await enqueue_sync_all(session, router_id)
            await prune(session)
    limit = asyncio.Semaphore(concurrency)

    async def one(router_id: int) -> RunReport:
        async with limit, database.tenant_session(schema) as session, session.begin():
            return await apply_pending(session, tenant, router_id, client_factory=client_factory)

    reports = await asyncio.gather(*(one(router_id) for router_id in sorted(router_ids)))
    return {
        "routers": len(reports),
        "applied": sum(r.applied for r in reports),
        "refused": sum(r.refused for r in reports),
        "failed": sum(r.failed for r in reports),
        "unreachable": sum(1 for r in reports if r.unreachable),
    }


async def prune(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Forgets finished commands older than `KEEP_FINISHED`; returns how many."""
    cutoff = (now or utcnow()) - KEEP_FINISHED
    removed = await session.execute(
        delete(RouterCommand).where(
            RouterCommand.status.in_((CommandStatus.DONE, CommandStatus.FAILED)),
            RouterCommand.done_at < cutoff,
        )
    )
    return removed.rowcount or 0


async def sync_now(
    database: Database,
    schema: str,
    tenant: str,
    router_id: int,
    *,
    client_factory: ClientFactory = routeros_client,
) -> RouterCommand:
    """Queues a sync_all (committed first, so it is never lost) and tries it at once.
    Returns the command as it stands afterwards. RouterNotFound for an unknown router,
    RouterInputError for one Kiunga does not drive over the API."""
    async with database.tenant_session(schema) as session, session.begin():
        await network_service.get_router(session, router_id)
        if await session.scalar(api_routers_query().where(Router.id == router_id)) is None:
            raise RouterInputError(
                "mode", "only a router in api mode, with its API login, is provisioned"
            )
        command = await enqueue_sync_all(session, router_id)
        command_id = command.id
    async with database.tenant_session(schema) as session, session.begin():
        await apply_pending(session, tenant, router_id, client_factory=client_factory)
    async with database.tenant_session(schema) as session:
        return await session.get(RouterCommand, command_id)
