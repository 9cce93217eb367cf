"""`kiunga emulator routeros` serves one emulated router as its own process."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from kiunga.integrations.routeros.client import RouterConnection, RouterOSClient

KIUNGA = Path(sys.executable).with_name("kiunga")


async def test_the_cli_serves_a_router_with_the_given_credentials():
    process = await asyncio.create_subprocess_exec(
        str(KIUNGA), "emulator", "routeros", "--port", "0", "--user", "kiunga",
        "--password", "pw", "--identity", "cli-router",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        # The banner is printed once the port is bound.
        banner = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        found = re.search(r"on 127\.0\.0\.1:(\d+)", banner)
        assert found, banner
        connection = RouterConnection("127.0.0.1", "kiunga", "pw", port=int(found.group(1)))
        async with RouterOSClient(connection) as client:
            assert (await client.status()).identity == "cli-router"
            assert await client.add("/ppp/secret", name="1234") == "*1"
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
