"""The lifecycle's tests use the services fixtures (tests/services/conftest.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_path = Path(__file__).resolve().parents[1] / "services" / "conftest.py"
_spec = importlib.util.spec_from_file_location("kiunga_tests_services_fixtures_lifecycle", _path)
_services = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_services)

for _name in (
    "app",
    "client_for",
    "base_host",
    "make_key",
    "make_staff",
    "csrf_token_in",
    "login",
    "database",
    "tenant",
    "unit_of_work",
    "add_subscriber",
    "add_package",
    "pay",
    "topics",
    "check_invariants",
):
    globals()[_name] = getattr(_services, _name)

STAFF = _services.STAFF
JAN = _services.JAN
