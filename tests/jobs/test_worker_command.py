"""`kiunga worker` as a process: it runs queued jobs, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import uuid
from pathlib import Path

from arq.constants import health_check_key_suffix
from kiunga.platform.jobs.queue import create_redis_pool

KIUNGA = str(Path(sys.executable).with_name("kiunga"))


async def start_worker(settings_env, redis_url, *args):
    return await asyncio.create_subprocess_exec(
        KIUNGA,
        "worker",
        *args,
        env={**os.environ, **settings_env, "KIUNGA_REDIS_URL": redis_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_burst_runs_what_is_queued_and_exits(settings_env, jobs_redis_url, fresh_database):
    # A database of its own: a worker serves every ISP of its database, and the run's
    # shared one holds other tests' ISPs with work of their own (messages waiting for a
    # provider that has gone, retried later), which a burst worker would wait for.
    queue = f"kiunga:test:{uuid.uuid4().hex[:10]}"
    redis = await create_redis_pool(jobs_redis_url, queue)
    process = None
    try:
        with fresh_database("kiunga_burst") as database_url:
            env = {**settings_env, "KIUNGA_DATABASE_URL": database_url}
            job = await redis.enqueue_job("kiunga.ping", _job_id=f"ping-{uuid.uuid4().hex}")
            process = await start_worker(env, jobs_redis_url, "--burst", "--queue", queue)
            output, _ = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, output.decode()
            assert await job.result(timeout=60) == "pong"
    finally:
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
        await redis.aclose()


async def test_sigterm_stops_the_worker_cleanly(settings_env, jobs_redis_url):
    queue = f"kiunga:test:{uuid.uuid4().hex[:10]}"
    redis = await create_redis_pool(jobs_redis_url, queue)
    process = await start_worker(settings_env, jobs_redis_url, "--queue", queue)
    try:
        async with asyncio.timeout(60):
            while not await redis.exists(queue + health_check_key_suffix):
                assert process.returncode is None, (await process.stdout.read()).decode()
                await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, output.decode()
        # arq removes its health key on a clean shutdown.
        assert not await redis.exists(queue + health_check_key_suffix)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await redis.aclose()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_sigterm_stops_a_worker_waiting_for_redis(settings_env):
    dead_redis = f"redis://127.0.0.1:{closed_port()}/0"
    process = await start_worker(settings_env, dead_redis)
    seen = b""
    try:
        # Wait for the worker to say it is waiting (a slow start under load must not make
        # the SIGTERM arrive before its handlers are installed).
        async with asyncio.timeout(60):
            while b"lost Redis" not in seen and b"redis connection error" not in seen:
                line = await process.stdout.readline()
                assert line, f"the worker exited without Redis:\n{seen.decode()}"
                seen += line
        assert process.returncode is None, "no Redis is no reason to exit"
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, (seen + output).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
