"""`serve_radius`: the server as a long-running command, in one process or several.

A worker loads what it answers from (the parts' `start()`) before it has a socket: with
`workers > 1` the parent forks, waits until every worker says it has loaded, then binds the
sockets and hands them over (SCM_RIGHTS on a socket pair), and announces ready once every
worker reads them; a single process binds after loading. A request is never queued behind
a load, and "ready" means every worker answers. Every worker reads the one
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

# What a worker tells the parent (over a socket pair): its caches are loaded; it reads the
# sockets the parent handed it. The parent's one message carries the sockets.
LOADED = b"L"
SERVING = b"S"
SOCKETS = b"K"


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
    acct_port)` is called (in the parent process) once every worker has loaded what it
    answers from and reads its sockets."""
    workers = max(1, workers)
    parts = (directory, authorizer, sink)
    if workers == 1:

        async def bind() -> tuple[socket.socket, socket.socket]:
            auth, accts = _bind(host, auth_port, acct_port, 1)
            return auth, accts[0]

        asyncio.run(_serve_worker(host, parts, duplicate_window, bind, on_ready))
        return
    context = multiprocessing.get_context("fork")
    children, channels = [], []
    for index in range(workers):
        ours, theirs = socket.socketpair()
        child = context.Process(
            target=_worker_main,
            args=(theirs, channels, host, parts, duplicate_window),
            name=f"kiunga-radius-{index}",
            daemon=True,
        )
        child.start()
        theirs.close()
        children.append(child)
        channels.append(ours)
    with _stopping_children_on_signals(children) as stopping:
        if not _hear_from_all(children, channels, LOADED, stopping):
            _wait_for_children(children, stopping)
            return
        try:
            auth, accts = _bind(host, auth_port, acct_port, workers)
        except BaseException:
            stopping.stop()
            _wait_for_children(children, stopping)
            raise
        ports = auth.getsockname()[1], accts[0].getsockname()[1]
        for channel, acct in zip(channels, accts, strict=True):
            socket.send_fds(channel, [SOCKETS], [auth.fileno(), acct.fileno()])
        for sock in (auth, *accts):
            sock.close()
        if _hear_from_all(children, channels, SERVING, stopping) and on_ready is not None:
            on_ready(*ports)
        _wait_for_children(children, stopping)
    for channel in channels:
        channel.close()


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


def _worker_main(channel: socket.socket, inherited, host, parts, duplicate_window) -> None:
    for other in inherited:  # the parent's ends of the workers forked before this one
        other.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent tells workers to stop

    async def sockets_when_loaded() -> tuple[socket.socket, socket.socket]:
        # Loaded: the parent binds once every worker is, and hands over the sockets.
        channel.sendall(LOADED)
        loop = asyncio.get_running_loop()
        handed = loop.create_future()
        loop.add_reader(channel, lambda: handed.done() or handed.set_result(None))
        try:
            await handed
        finally:
            loop.remove_reader(channel)
        _, fds, _, _ = socket.recv_fds(channel, len(SOCKETS), 2)
        if len(fds) != 2:
            raise RuntimeError("the RADIUS parent process went away before handing over sockets")
        auth, acct = (socket.socket(fileno=fd) for fd in fds)
        for sock in (auth, acct):
            sock.setblocking(False)
        return auth, acct

    def serving(auth_port: int, acct_port: int) -> None:
        channel.sendall(SERVING)

    asyncio.run(_serve_worker(host, parts, duplicate_window, sockets_when_loaded, serving))


async def _serve_worker(host, parts, duplicate_window, open_sockets, on_serving) -> None:
    """Load what the parts keep in memory, and only then take the sockets (`open_sockets`)
    and read them: no request waits behind a load, and nothing is announced before."""
    directory, authorizer, sink = parts
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    started = []
    try:
        for part in parts:
            if callable(getattr(part, "start", None)):
                await _unless_stopped(part.start(), stop)
            started.append(part)
        # What the parts loaded (every ISP's users) lives as long as the process: leave it
        # out of the garbage collector's full passes, which would otherwise stop the loop
        # for tens of milliseconds now and then.
        gc.collect()
        gc.freeze()
        auth, acct = await _unless_stopped(open_sockets(), stop)
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
        try:
            ports = auth.getsockname()[1], acct.getsockname()[1]
            log.info("RADIUS worker %d serving auth %s acct %s", os.getpid(), *ports)
            if on_serving is not None:
                on_serving(*ports)
            await stop.wait()
        finally:
            await server.close()
    except _Stopped:
        pass
    finally:
        for part in reversed(started):
            if callable(getattr(part, "close", None)):
                await part.close()


class _Stopped(Exception):
    """SIGINT or SIGTERM came while a worker was still getting ready."""


async def _unless_stopped(awaitable, stop: asyncio.Event):
    work = asyncio.ensure_future(awaitable)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not work.done():
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        raise _Stopped
    return work.result()


class _Stopping:
    """Whether the workers were told to stop (a signal, a worker that died, a failed bind)."""

    def __init__(self, children) -> None:
        self.children = children
        self.stopped = False

    def stop(self, signum=None, frame=None) -> None:
        self.stopped = True
        for child in self.children:
            if child.is_alive():
                os.kill(child.pid, signal.SIGTERM)


@contextlib.contextmanager
def _stopping_children_on_signals(children):
    stopping = _Stopping(children)
    previous = {s: signal.signal(s, stopping.stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _hear_from_all(children, channels, word: bytes, stopping: _Stopping) -> bool:
    """Until every worker has said `word`; False when one died or a stop came first."""
    waiting = dict(zip(channels, children, strict=True))
    while waiting and not stopping.stopped:
        sentinels = {child.sentinel: child for child in waiting.values()}
        for ready in multiprocessing.connection.wait([*waiting, *sentinels]):
            if ready in sentinels:
                child = sentinels[ready]
                if child in waiting.values() and not stopping.stopped:
                    log.error("RADIUS worker %s exited with %s", child.pid, child.exitcode)
                    stopping.stop()
                continue
            if ready not in waiting:
                continue
            heard = ready.recv(len(word))
            if heard == word:
                del waiting[ready]
            elif not heard and not stopping.stopped:  # the worker is gone
                log.error("RADIUS worker %s stopped before it was ready", waiting[ready].pid)
                stopping.stop()
    return not waiting and not stopping.stopped


def _wait_for_children(children, stopping: _Stopping) -> None:
    """Until every worker has exited; a stop or a worker dying stops them all."""
    running = list(children)
    while running:
        multiprocessing.connection.wait([child.sentinel for child in running])
        for child in [child for child in running if not child.is_alive()]:
            running.remove(child)
            if not stopping.stopped:
                log.error("RADIUS worker %s exited with %s", child.pid, child.exitcode)
                stopping.stop()
