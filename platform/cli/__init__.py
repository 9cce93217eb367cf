"""The `kiunga` command. Each sub-command lives in its own module with a `register(app)`."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="kiunga",
    help="Kiunga: run many ISPs' packages, subscribers, billing, payments and network.",
    no_args_is_help=True,
    add_completion=False,
)

COMMAND_MODULES = (
    "up",
    "serve",
    "worker",
    "migrate",
    "tenants",
    "admins",
    "imports",
    "emulators",
    "radius",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"kiunga.platform.cli.{_name}").register(app)


def main() -> None:
    app()
