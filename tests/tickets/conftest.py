"""Tickets fixtures: subscriber rows made directly (the subscribers API is not what is
tested here) and staff ids by email."""

import pytest
from kiunga.platform.models import StaffAccount
from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import select
from sqlalchemy.orm import Session


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
