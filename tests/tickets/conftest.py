"""The web shell's fixtures (app, client_for, make_key, make_staff, login, csrf_token_in),
borrowed from tests/web/conftest.py so that these tests drive the real API and console."""

import importlib.util
from pathlib import Path

_path = Path(__file__).resolve().parents[1] / "web" / "conftest.py"
_spec = importlib.util.spec_from_file_location("kiunga_tests_web_fixtures_for_tickets", _path)
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
from kiunga.platform.models import StaffAccount  # noqa: E402
from kiunga.tenants.subscribers.models import Subscriber  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402


@pytest.fixture
def add_subscriber(engine):
    """A subscriber row in a tenant's schema (the subscribers API is not what is tested)."""

    def add(schema: str, account_number: str, name: str = "Achieng Otieno") -> int:
        mapped = engine.execution_options(schema_translate_map={None: schema})
        with Session(mapped) as session, session.begin():
            subscriber = Subscriber(account_number=account_number, name=name)
            session.add(subscriber)
            session.flush()
            return subscriber.id

    return add


@pytest.fixture
def staff_id_of(engine):
    def find(email: str) -> int:
        with Session(engine) as session:
            return session.scalar(select(StaffAccount.id).where(StaffAccount.email == email))

    return find
