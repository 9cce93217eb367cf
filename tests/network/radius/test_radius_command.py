"""`kiunga radius` as operators run it: a process of its own that answers radclient for an
ISP's router, writes accounting, and stops cleanly on SIGTERM (what it took is written)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest
from kiunga.tenants.network.radius.models import RadiusSession
from sqlalchemy import select

from fixtures.radius import SECRET, radclient
from fixtures.waiting import eventually

KIUNGA = Path(sys.executable).with_name("kiunga")
READY = re.compile(r"authentication (\d+), accounting (\d+)")


@pytest.mark.parametrize("workers", [1, 2])
async def test_kiunga_radius_serves_and_stops_on_sigterm(
    isp, add_service, unit_of_work, settings_env, workers
):
    await add_service(isp, f"process-user-{workers}", "process-pass")
    process = await asyncio.create_subprocess_exec(
        str(KIUNGA), "radius", "--host", "127.0.0.1", "--auth-port", "0", "--acct-port", "0",
        "--workers", str(workers),
        env={**os.environ, **settings_env, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output = []
    try:
        ports = None
        while ports is None:
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            assert line, "kiunga radius exited: " + "".join(output)
            output.append(line.decode(errors="replace"))
            found = READY.search(output[-1])
            if found:
                ports = int(found[1]), int(found[2])
        auth_port, acct_port = ports
        reply = await radclient(
            auth_port,
            "auth",
            SECRET,
            {"User-Name": f"process-user-{workers}", "User-Password": "process-pass"},
        )
        assert reply.code == "Access-Accept", reply.output
        assert reply["Mikrotik-Rate-Limit"] == "5M/10M"
        start = {
            "Acct-Status-Type": "Start",
            "Acct-Session-Id": f"9900000{workers}",
            "User-Name": f"process-user-{workers}",
        }
        assert (await radclient(acct_port, "acct", SECRET, start)).code == "Accounting-Response"
    finally:
        process.send_signal(signal.SIGTERM)
        tail, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, "".join(output) + tail.decode(errors="replace")

    async def written():
        async with unit_of_work(isp.schema) as session:
            return await session.scalar(
                select(RadiusSession).where(RadiusSession.acct_session_id == f"9900000{workers}")
            )

    assert (await eventually(written)).username == f"process-user-{workers}"
