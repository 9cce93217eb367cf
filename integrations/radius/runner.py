"""`serve_radius`: the server as a long-running command, in one process or several.

With `workers > 1` the parent binds the sockets and forks. Every worker reads the one
authentication socket, so even a single busy NAS is spread over all of them; accounting has
one socket per worker on the same port (SO_REUSEPORT), which keeps each NAS on one worker
so that its retransmissions meet the reply cache that saw the original.

Each worker has its own copy of the directory, authorizer and sink as they were at fork
time, so these objects must keep themselves fresh from inside the worker: a `start()`
coroutine, when they have one, is awaited in each worker's event loop before packets are
read, and `close()` on the way out.
Metrics are per worker (no Prometheus multiprocess collection here).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
from collections.abc import Callable

from kiunga.integrations.radius.interfaces import AccountingSink, Authorizer, ClientDirectory
from kiunga.integrations.radius.metrics import RadiusMetrics
from kiunga.integrations.radius.replies import DUPLICATE_WINDOW
from kiunga.integrations.radius.server import RadiusServer
from kiunga.integrations.radius.sockets import bind_udp

log = logging.getLogger(__name__)


def serve_radius(
    host: str,
    auth_port: int,
    acct_port: int,
    directory: ClientDirectory,
    authorizer: Authorizer,
    sink: AccountingSink,
    *,
    workers: int = 1,
    duplicate_window: float = DUPLICATE_WINDOW,
    on_ready: Callable[[int, int], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM. Port 0 picks free ports; `on_ready(auth_port,
    acct_port)` is called once every socket is bound (in the parent process)."""
    workers = max(1, workers)
    auth, accts = _bind(host, auth_port, acct_port, workers)
    ports = auth.getsockname()[1], accts[0].getsockname()[1]
    if workers == 1:
        asyncio.run(
            _serve_worker(
                host, auth, accts[0], directory, authorizer, sink, duplicate_window, on_ready
            )
        )
        return
    context = multiprocessing.get_context("fork")
    children = []
    for index in range(workers):
        child = context.Process(
            target=_worker_main,
            args=(index, auth, accts, host, directory, authorizer, sink, duplicate_window),
            name=f"kiunga-radius-{index}",
            daemon=True,
        )
        child.start()
        children.append(child)
    for sock in (auth, *accts):
        sock.close()
    if on_ready is not None:
        on_ready(*ports)
    _wait_for_children(children)


def _bind(
    host: str, auth_port: int, acct_port: int, workers: int
) -> tuple[socket.socket, list[socket.socket]]:
    """One authentication socket that every worker reads (a single busy NAS is spread over
    all of them; a retransmission that lands on another worker is answered again, the same
    way), and one accounting socket per worker on a shared port (SO_REUSEPORT keeps each
    NAS on one worker, so its retransmitted records are recognised, not stored twice)."""
    auth = bind_udp(host, auth_port)
    accts: list[socket.socket] = []
    try:
        for _ in range(workers):
            acct = bind_udp(host, acct_port, reuse_port=workers > 1)
            acct_port = acct.getsockname()[1]
            accts.append(acct)
    except BaseException:
        for sock in (auth, *accts):
            sock.close()
        raise
    return auth, accts


def _worker_main(index, auth, accts, host, directory, authorizer, sink, duplicate_window) -> None:
    for number, acct in enumerate(accts):
        if number != index:
            acct.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent tells workers to stop
    asyncio.run(
        _serve_worker(host, auth, accts[index], directory, authorizer, sink, duplicate_window, None)
    )


async def _serve_worker(
    host, auth, acct, directory, authorizer, sink, duplicate_window, on_ready
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    parts = [directory, authorizer, sink]
    for part in parts:
        if callable(getattr(part, "start", None)):
            await part.start()
    # What the parts loaded (every ISP's users) lives as long as the process: leave it out
    # of the garbage collector's full passes, which would otherwise stop the loop for tens
    # of milliseconds now and then.
    gc.collect()
    gc.freeze()
    server = RadiusServer(
        directory,
        authorizer,
        sink,
        host=host,
        metrics=RadiusMetrics(),
        duplicate_window=duplicate_window,
        auth_socket=auth,
        acct_socket=acct,
    )
    await server.start()
    ports = auth.getsockname()[1], acct.getsockname()[1]
    log.info("RADIUS worker %d serving auth %s acct %s", os.getpid(), *ports)
    if on_ready is not None:
        on_ready(*ports)
    try:
        await stop.wait()
    finally:
        await server.close()
        for part in reversed(parts):
            if callable(getattr(part, "close", None)):
                await part.close()


def _wait_for_children(children) -> None:
    """Until every worker has exited; SIGINT/SIGTERM or a worker dying stops them all."""
    stopping = False

    def stop(signum=None, frame=None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.is_alive():
                os.kill(child.pid, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        running = list(children)
        while running:
            multiprocessing.connection.wait([child.sentinel for child in running])
            for child in [child for child in running if not child.is_alive()]:
                running.remove(child)
                if not stopping:
                    log.error("RADIUS worker %s exited with %s", child.pid, child.exitcode)
                    stop()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
