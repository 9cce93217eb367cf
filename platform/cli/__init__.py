"""The `kiunga` command. Each of the kernel's sub-commands lives in its own module with a
`register(app)`; the areas add theirs (`kiunga import`, `kiunga radius`, …) through the
`cli` of their manifests (kiunga.platform.areas)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import typer
from kiunga.platform.areas import Area, Assembly, assemble

COMMAND_MODULES = (
    "up",
    "serve",
    "worker",
    "migrate",
    "tenants",
    "admins",
    "emulators",
)


def build_cli(areas: Iterable[Area] | None = None) -> tuple[typer.Typer, Assembly]:
    """The command with the kernel's sub-commands and those of `areas` (the listed ones
    when None)."""
    app = typer.Typer(
        name="kiunga",
        help="Kiunga: run many ISPs' packages, subscribers, billing, payments and network.",
        no_args_is_help=True,
        add_completion=False,
    )
    for name in COMMAND_MODULES:
        importlib.import_module(f"kiunga.platform.cli.{name}").register(app)
    assembly = assemble(areas)
    for area in assembly.areas:
        for register in area.cli:
            register(app)
    return app, assembly


_built: tuple[typer.Typer, Assembly] | None = None


def __getattr__(name: str):
    # `app` is built on first use, not on import: the areas' own commands import the
    # helpers of this package (cli.common, cli.up) while the areas are being loaded.
    global _built
    if name in {"app", "assembly"}:
        if _built is None:
            _built = build_cli()
        return _built[0] if name == "app" else _built[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    app, assembly = build_cli()
    # The areas' hooks and scopes serve what the commands do in this process (the demo's
    # payments in `kiunga up`, keys made by `kiunga tenants`).
    assembly.install()
    app()
