"""The web shell's fixtures (app, client_for, make_key, make_staff, login, csrf_token_in),
borrowed from tests/web/conftest.py so that these tests drive the real API and console."""

import importlib.util
from pathlib import Path

_path = Path(__file__).resolve().parents[1] / "web" / "conftest.py"
_spec = importlib.util.spec_from_file_location("kiunga_tests_web_fixtures", _path)
_web = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_web)

app = _web.app
client_for = _web.client_for
base_host = _web.base_host
make_key = _web.make_key
make_staff = _web.make_staff
csrf_token_in = _web.csrf_token_in
login = _web.login


import pytest  # noqa: E402
from kiunga.platform.db.engine import Database  # noqa: E402


@pytest.fixture
async def database(database_url):
    database = Database(database_url, pool_size=2)
    yield database
    await database.dispose()
