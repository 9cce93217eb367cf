"""Benchmarks are not part of the default test run (they take minutes and a database of
their own). Run them with `KIUNGA_BENCH=1 python -m pytest tests/bench -s -p no:cacheprovider`
(or `./run bench`)."""

import os

if os.environ.get("KIUNGA_BENCH") != "1":
    collect_ignore_glob = ["test_*.py"]
