"""Schemathesis at full strength: every check schemathesis has, valid and schema-invalid
requests, many examples per operation, over every operation of the live OpenAPI document
as an all-scopes key. tests/security/test_openapi_fuzz.py is its bounded form in the suite.

    KIUNGA_BENCH=1 python -m pytest tests/bench/test_openapi_fuzz_full.py -s -p no:cacheprovider
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

_security = Path(__file__).resolve().parents[1] / "security"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"kiunga_bench_{name}", _security / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_fixtures = _load("conftest")
keyed_tenant = _fixtures.keyed_tenant
mint_key = _fixtures.mint_key
served_app = _fixtures.served_app
_fuzz = _load("test_openapi_fuzz")
fuzz_operations = _fuzz.fuzz_operations

EXAMPLES = int(os.environ.get("KIUNGA_FUZZ_EXAMPLES", "50"))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_check_over_every_operation(served_app, keyed_tenant, mint_key, mode):
    load_all_checks()
    checks = CHECKS.get_all()
    started = time.perf_counter()
    found = fuzz_operations(
        served_app, keyed_tenant.host, mint_key, EXAMPLES, checks=checks, mode=mode
    )
    tally = Counter(failure.code for failure in found)
    print(
        f"\nschemathesis {mode.value}: {EXAMPLES} examples per operation, {len(checks)} checks, "
        f"{time.perf_counter() - started:.0f} s; failures by check: {dict(tally) or 'none'}"
    )
    for failure in found:
        print(f"  {failure.operation} [{failure.code}] {failure.text.splitlines()[0][:120]}")
    # The bar: no server error and no undocumented status code. Other checks' findings
    # (a schema-valid request the service refuses, …) are printed for the record.
    breaking = [f for f in found if f.code in (_fuzz.SERVER_ERROR, _fuzz.UNDOCUMENTED_STATUS)]
    assert not breaking, "\n\n".join(map(str, breaking))
