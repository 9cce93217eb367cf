"""The `kiunga` command run in-process (typer's CliRunner) and as a real subprocess, each
test against a database of its own (named by KIUNGA_DATABASE_URL, as in production)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from kiunga.platform.cli import app
from kiunga.platform.db.engine import sync_engine
from kiunga.platform.settings import get_settings
from sqlalchemy import Engine, text
from typer.testing import CliRunner

KIUNGA = Path(sys.executable).with_name("kiunga")


@dataclass
class Cli:
    url: str
    engine: Engine
    base_domain: str

    def __call__(self, *args: str):
        """`kiunga …` in this process; the result has exit_code, stdout, stderr, output."""
        return CliRunner().invoke(app, list(args))

    def subprocess(self, *args: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(
            [str(KIUNGA), *args],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            **kwargs,
        )

    def scalar(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def execute(self, sql: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(text(sql))

    def counts(self) -> tuple[int, int]:
        """Tenant rows and tenant schemas: what a refused command must leave unchanged."""
        return (
            self.scalar("SELECT count(*) FROM platform.tenants"),
            self.scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 't\\_%'"),
        )


@pytest.fixture
def cli(fresh_database, settings_env, monkeypatch):
    with fresh_database("kiunga_cli") as url:
        monkeypatch.setenv("KIUNGA_DATABASE_URL", url)
        get_settings.cache_clear()
        engine = sync_engine(url)
        yield Cli(url, engine, settings_env["KIUNGA_BASE_DOMAIN"])
        engine.dispose()
        get_settings.cache_clear()  # monkeypatch restores the session's URL after this
