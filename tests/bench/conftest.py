"""Benchmarks are not part of the default test run (they take minutes and a database of
their own). Run them with `KIUNGA_BENCH=1 python -m pytest tests/bench -s -p no:cacheprovider`
(or `./run bench`).

Every run prints the machine beside its figures (CPU model, cores, load) and two
calibration figures, at the start and again at the end: figures from machines, or moments,
that differ in these are not comparable, and a busy moment shows up as a calibration figure
far from the quiet one written in the README.
"""

import hashlib
import os
import time

if os.environ.get("KIUNGA_BENCH") != "1":
    collect_ignore_glob = ["test_*.py"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def _python_loop_ms() -> float:
    """The best of five runs of a fixed pure-Python loop (one core's interpreter speed)."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for number in range(1_000_000):
            total += number % 7
        best = min(best, time.perf_counter() - started)
    return best * 1000


def _sha256_mb_per_s() -> float:
    """SHA-256 over 64 MB, best of three (one core's native speed)."""
    block = b"\x5a" * (1 << 20)
    best = float("inf")
    for _ in range(3):
        digest = hashlib.sha256()
        started = time.perf_counter()
        for _ in range(64):
            digest.update(block)
        best = min(best, time.perf_counter() - started)
    return 64 / best


def machine_line() -> str:
    load = " ".join(f"{figure:.2f}" for figure in os.getloadavg())
    return (
        f"machine: {_cpu_model()}, {os.cpu_count()} cores, load {load}; calibration: "
        f"Python loop of 1M {_python_loop_ms():.0f} ms, SHA-256 {_sha256_mb_per_s():.0f} MB/s"
    )


def pytest_report_header(config):
    if os.environ.get("KIUNGA_BENCH") == "1":
        return machine_line()
    return None


def pytest_terminal_summary(terminalreporter):
    if os.environ.get("KIUNGA_BENCH") == "1":
        terminalreporter.write_line(f"[bench] at the end, {machine_line()}")
