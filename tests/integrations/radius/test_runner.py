"""`serve_radius` as the `kiunga radius` command will run it, in one process and with two
workers sharing the ports: answering radtest and radclient, flushing accounting and
stopping cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap

import pytest

SERVER = textwrap.dedent(
    """
    import sys
    from kiunga.integrations.radius.accounting import BatchingSink
    from kiunga.integrations.radius.interfaces import Authorization, RadiusClient
    from kiunga.integrations.radius.memory import StaticAuthorizer, StaticDirectory
    from kiunga.integrations.radius.runner import serve_radius

    async def written(batch):
        for record in batch:
            print("record", record.session_id, record.input_octets, flush=True)

    directory = StaticDirectory({"127.0.0.1": RadiusClient(b"s3cret", "isp", "r1")})
    authorizer = StaticAuthorizer()
    authorizer.set("isp", "alice", Authorization(password=b"pw", rate_limit="3M/3M"))
    serve_radius(
        "127.0.0.1", 0, 0, directory, authorizer,
        BatchingSink(written, max_batch=1, wait_for_flush=True),
        workers=int(sys.argv[1]),
        on_ready=lambda auth, acct: print("ready", auth, acct, flush=True),
    )
    print("stopped", flush=True)
    """
)


@pytest.mark.parametrize("workers", [1, 2])
async def test_serve_radius_answers_and_stops_on_sigterm(nas, workers):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER, str(workers), stdout=asyncio.subprocess.PIPE
    )
    try:
        ready = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().split()
        assert ready[0] == "ready", ready
        auth, acct = int(ready[1]), int(ready[2])

        access = await nas.radtest(("127.0.0.1", auth), "alice", "pw", secret="s3cret")
        accounting = await nas.radclient(
            ("127.0.0.1", acct),
            "acct",
            'Acct-Status-Type = Start\nAcct-Session-Id = "w1"\nAcct-Input-Octets = 9\n',
            secret="s3cret",
        )

        assert access.reply_code == "Access-Accept", access.output
        assert access.first("Mikrotik-Rate-Limit") == "3M/3M"
        assert accounting.reply_code == "Accounting-Response", accounting.output
        process.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(process.stdout.read(), 30)).decode().splitlines()
        assert await process.wait() == 0
        assert "record w1 9" in rest
        assert rest[-1] == "stopped"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# Each worker's authorizer loads "slowly": it says it is loading, then waits until the test
# lets it go (a file appears), then says it has loaded. The parent says ready.
HELD_SERVER = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    from kiunga.integrations.radius.accounting import BatchingSink
    from kiunga.integrations.radius.interfaces import Authorization, RadiusClient
    from kiunga.integrations.radius.memory import StaticAuthorizer, StaticDirectory
    from kiunga.integrations.radius.runner import serve_radius

    RELEASE = Path(sys.argv[2])

    def say(*words):  # one write: the processes share the pipe
        os.write(1, (" ".join(map(str, words)) + "\\n").encode())

    class HeldAuthorizer(StaticAuthorizer):
        async def start(self):
            say("loading", os.getpid())
            while not RELEASE.exists():
                await asyncio.sleep(0.01)
            self.set("isp", "alice", Authorization(password=b"pw", rate_limit="3M/3M"))
            say("loaded", os.getpid())

    async def discard(batch):
        pass

    directory = StaticDirectory({"127.0.0.1": RadiusClient(b"s3cret", "isp", "r1")})
    serve_radius(
        "127.0.0.1", 0, 0, directory, HeldAuthorizer(), BatchingSink(discard),
        workers=int(sys.argv[1]),
        on_ready=lambda auth, acct: say("ready", auth, acct),
    )
    """
)


@pytest.mark.parametrize("workers", [1, 2])
async def test_ready_only_once_every_worker_has_loaded(nas, workers, tmp_path):
    release = tmp_path / "release"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HELD_SERVER, str(workers), str(release),
        stdout=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    lines: list[list[str]] = []

    def count(word: str) -> int:
        return sum(1 for line in lines if line[0] == word)

    async def read_until(done) -> None:
        while not done():
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().split()
            assert line, f"the server exited: {lines}"
            lines.append(line)

    try:
        await read_until(lambda: count("loading") == workers)
        release.touch()
        await read_until(lambda: count("loaded") == workers and count("ready") == 1)
        words = [line[0] for line in lines]
        # Nothing was announced while a worker was still loading its cache.
        assert words.index("ready") > max(i for i, w in enumerate(words) if w == "loaded"), words
        auth, acct = (int(port) for port in next(line for line in lines if line[0] == "ready")[1:])
        # So the first requests after "ready" are answered, whichever worker reads them.
        for _ in range(2 * workers):
            access = await nas.radtest(("127.0.0.1", auth), "alice", "pw", secret="s3cret")
            assert access.reply_code == "Access-Accept", access.output
        accounting = await nas.radclient(
            ("127.0.0.1", acct),
            "acct",
            'Acct-Status-Type = Start\nAcct-Session-Id = "h1"\n',
            secret="s3cret",
        )
        assert accounting.reply_code == "Accounting-Response", accounting.output
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            release.touch()  # a worker still loading would not see the end otherwise
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
