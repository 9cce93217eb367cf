"""`serve_radius`: the server as a long-running command, in one process or several.

With `workers > 1` the parent binds one pair of sockets per worker on the same ports with
SO_REUSEPORT and forks; the kernel spreads NASes over the workers by their source address
and port (one NAS's packets stay on one worker). Each worker has its own copy of the
directory, authorizer and sink as they were at fork time, so these objects must keep
themselves fresh from inside the worker: a `start()` coroutine, when they have one, is
awaited in each worker's event loop before packets are read, and `close()` on the way out.
Metrics are per worker (no Prometheus multiprocess collection here).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
from collections.abc import Callable

from kiunga.integrations.radius.interfaces import AccountingSink, Authorizer, ClientDirectory
from kiunga.integrations.radius.metrics import RadiusMetrics
from kiunga.integrations.radius.server import DUPLICATE_WINDOW, RadiusServer, bind_udp

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
    pairs = _bind_pairs(host, auth_port, acct_port, workers)
    if workers == 1:
        auth, acct = pairs[0]
        asyncio.run(
            _serve_worker(host, auth, acct, directory, authorizer, sink, duplicate_window, on_ready)
        )
        return
    context = multiprocessing.get_context("fork")
    children = []
    for index in range(len(pairs)):
        child = context.Process(
            target=_worker_main,
            args=(index, pairs, host, directory, authorizer, sink, duplicate_window),
            name=f"kiunga-radius-{index}",
            daemon=True,
        )
        child.start()
        children.append(child)
    ports = _ports(pairs[0])
    for auth, acct in pairs:
        auth.close()
        acct.close()
    if on_ready is not None:
        on_ready(*ports)
    _wait_for_children(children)


def _bind_pairs(
    host: str, auth_port: int, acct_port: int, workers: int
) -> list[tuple[socket.socket, socket.socket]]:
    reuse = workers > 1
    pairs = []
    try:
        for _ in range(workers):
            auth = bind_udp(host, auth_port, reuse_port=reuse)
            auth_port = auth.getsockname()[1]
            try:
                acct = bind_udp(host, acct_port, reuse_port=reuse)
            except BaseException:
                auth.close()
                raise
            acct_port = acct.getsockname()[1]
            pairs.append((auth, acct))
    except BaseException:
        for auth, acct in pairs:
            auth.close()
            acct.close()
        raise
    return pairs


def _ports(pair: tuple[socket.socket, socket.socket]) -> tuple[int, int]:
    return pair[0].getsockname()[1], pair[1].getsockname()[1]


def _worker_main(index, pairs, host, directory, authorizer, sink, duplicate_window) -> None:
    mine = pairs[index]
    for other in pairs:
        if other is not mine:
            other[0].close()
            other[1].close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent tells workers to stop
    asyncio.run(_serve_worker(host, *mine, directory, authorizer, sink, duplicate_window, None))


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
    log.info("RADIUS worker %d serving auth %s acct %s", os.getpid(), *_ports((auth, acct)))
    if on_ready is not None:
        on_ready(*_ports((auth, acct)))
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
