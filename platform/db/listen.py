"""LISTEN on a PostgreSQL channel for as long as a task runs.

The outbox relay and the RADIUS server's caches learn of committed changes this way. A
notification sent while nobody listened is lost, so `on_listen` runs each time the LISTEN
is (again) in place: that is where a listener catches up (a sweep, a reload). A lost
connection is opened again after 1 s, doubling up to `retry_max`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

import psycopg
from kiunga.platform.db.engine import libpq_url

log = logging.getLogger("kiunga.listen")

RETRY_MAX = 30.0
CHANNEL_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,62}")


async def listen_forever(
    database_url: str,
    channel: str,
    *,
    on_notify: Callable[[str], None],
    on_listen: Callable[[], None] = lambda: None,
    on_lost: Callable[[], None] = lambda: None,
    what: str = "listener",
    retry_max: float = RETRY_MAX,
) -> None:
    """Until cancelled: `on_notify(payload)` for every notification on `channel`."""
    if not CHANNEL_PATTERN.fullmatch(channel):  # it is spliced into the LISTEN statement
        raise ValueError(f"not a channel name: {channel!r}")
    dsn = libpq_url(database_url)
    delay = 1.0
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                await conn.execute(f"LISTEN {channel}")
                log.info("%s listening on %s", what, channel)
                on_listen()
                delay = 1.0
                async for notice in conn.notifies():
                    on_notify(notice.payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            on_lost()
            log.warning("%s lost (%s); listening again in %.0fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry_max)
