"""The vouchers' part of `kiunga up`: the demo ISP's hotspot packages, portal look and an
agent's voucher batch (see demo.py), and the banner's lines on the captive portal."""

from __future__ import annotations

import asyncio

from kiunga.platform.cli.up import DemoContext, console
from kiunga.tenants.vouchers.demo import DemoHotspot, seed_demo_hotspot


def seed(demo: DemoContext) -> DemoHotspot | None:
    """None (and a warning) if seeding fails, since the rest of the demo works without it."""
    try:
        return asyncio.run(seed_demo_hotspot(demo.database_url, demo.slug))
    except Exception as exc:  # the demo goes on without its hotspot; say why
        console.print(f"[yellow]Hotspot demo not set up: {type(exc).__name__}: {exc}[/yellow]")
        return None


def banner(demo: DemoContext) -> str:
    hotspot: DemoHotspot | None = demo.made.get("vouchers")
    if hotspot is None:
        return ""
    url = demo.url
    batch = f"{url}/vouchers/batches/{hotspot.batch_id}"
    lines = (
        f"Hotspot: the captive portal is {url}/portal/ (packages on sale, M-Pesa, vouchers);\n"
        f"  the demo agent's one-hour vouchers: {batch} (print: {batch}/sheet, "
        f"{batch}/sheet.pdf).\n"
    )
    if hotspot.sample_codes:
        code = hotspot.sample_codes[0]
        lines += f"  An unused code: {code} — {url}/portal/?code={code}\n"
    # The network's demo NAS, when it runs: a phone on the hotspot logs in through it.
    hotspot_port = getattr(demo.made.get("network"), "hotspot_port", None)
    if hotspot_port:
        lines += (
            f"  Be a phone on the demo hotspot: http://127.0.0.1:{hotspot_port}/login "
            "(the Demo NAS: its login page\n  is the portal's login.html; a voucher or an "
            "M-Pesa purchase logs it in through Kiunga's RADIUS).\n"
        )
    return lines
