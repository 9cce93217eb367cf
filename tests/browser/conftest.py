"""A real `kiunga serve` on a free port, and Debian's Chromium driven by Playwright.

Chromium is told that every `*.<base domain>` host is this machine, so tenant sub-domains
route exactly as they would behind real DNS.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
KIUNGA = Path(sys.executable).with_name("kiunga")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(settings_env):
    """`kiunga serve` as its own process; yields its port."""
    port = _free_port()
    env = {**os.environ, **settings_env, "KIUNGA_PORT": str(port)}
    process = subprocess.Popen(
        [str(KIUNGA), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"kiunga serve did not start: {process.stderr.read().decode()}")
        time.sleep(0.2)
    yield port
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `./run test` installs Debian's chromium package")
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser(settings_env, chromium):
    from playwright.async_api import async_playwright

    base = settings_env["KIUNGA_BASE_DOMAIN"]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--host-resolver-rules=MAP {base} 127.0.0.1, MAP *.{base} 127.0.0.1",
            ],
        )
        yield browser
        await browser.close()


@pytest.fixture
async def phone(browser):
    """A page the size of an ordinary Android phone's screen."""
    context = await browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = await context.new_page()
    yield page
    await context.close()
