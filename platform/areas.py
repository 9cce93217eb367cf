"""Areas: what each business area (and each channel) adds to Kiunga, and their assembly.

An area declares everything it adds in one manifest, an `Area` in its `area.py`: API
controllers, console pages and navigation, template folders, dashboard counters, scopes
and the roles holding them, jobs (tasks, periodic jobs) and outbox event handlers, hooks
into other areas' work (a payment hook, say), `kiunga` sub-commands, and its part of the
`kiunga up` demo. The kernel imports no area: it builds the web app, the worker, the scope
table, the hook table and the CLI from the manifests it is given.

Which areas make up Kiunga is said once, outside the kernel, in pyproject.toml, one line
per area — Python's plugin convention (pytest and datasette find their plugins so):

    [project.entry-points."kiunga.areas"]
    010-sites = "kiunga.tenants.sites.area:AREA"

`load_areas()` reads that list through importlib.metadata. Installers sort entry points by
name, so each name starts with the area's position: the console's navigation, the
dashboard's counters and the hooks of one kind follow it. (The entry points are part of the
installed package's metadata: `./run` reinstalls when pyproject.toml changes.) Tests
assemble other lists, a toy area added, without editing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiunga.platform.auth.scopes import (
    PLATFORM_LEVEL_SCOPES,
    Scope,
    ScopeTable,
    install_scopes,
)
from kiunga.platform.hooks import Hook, HookTable, install_hooks
from kiunga.platform.jobs.registry import EventHandlerSpec, JobRegistry, JobSpec

if TYPE_CHECKING:
    from kiunga.platform.web.console.rendering import NavItem
    from sqlalchemy.ext.asyncio import AsyncSession

AREA_GROUP = "kiunga.areas"

# A dashboard card: its label and `await counter(tenant_session)`.
Counter = Callable[["AsyncSession"], Awaitable[int]]


@dataclass(frozen=True)
class DemoStep:
    """An area's part of `kiunga up`'s demo, each given the demo's context (see
    kiunga.platform.cli.up.DemoContext): `seed` runs before the API and the worker start,
    `start` once they are started; what each returns is kept in `demo.made[area name]`
    for later steps and for `banner`, whose text is printed once everything answers."""

    seed: Callable[[Any], Any] | None = None
    start: Callable[[Any], Any] | None = None
    banner: Callable[[Any], str] | None = None


@dataclass(frozen=True)
class Area:
    name: str
    api_controllers: tuple[Any, ...] = ()
    console_controllers: tuple[Any, ...] = ()
    nav: tuple[NavItem, ...] = ()
    templates: tuple[Path, ...] = ()
    dashboard_counters: tuple[tuple[str, Counter], ...] = ()
    scopes: tuple[Scope, ...] = ()
    # Tasks and periodic (cron) jobs; and the handlers of committed outbox events.
    jobs: tuple[JobSpec, ...] = ()
    event_handlers: tuple[EventHandlerSpec, ...] = ()
    hooks: tuple[Hook, ...] = ()
    # `register(typer_app)` for each group of `kiunga` sub-commands (and processes).
    cli: tuple[Callable[[Any], None], ...] = ()
    demo: DemoStep | None = None


def _position(name: str) -> tuple[int, str]:
    position, _, rest = name.partition("-")
    if not position.isdigit() or not rest:
        raise ValueError(f"area entry point {name!r} is not named <position>-<area>")
    return int(position), rest


def load_areas(group: str = AREA_GROUP) -> tuple[Area, ...]:
    """The areas listed under the entry point group, by the position in their names."""
    areas = []
    for entry in sorted(entry_points(group=group), key=lambda entry: _position(entry.name)):
        area = entry.load()
        if not isinstance(area, Area):
            raise TypeError(f"entry point {entry.name} = {entry.value} is not an Area")
        areas.append(area)
    return check_areas(areas)


def check_areas(areas: Iterable[Area]) -> tuple[Area, ...]:
    areas = tuple(areas)
    names = [area.name for area in areas]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"areas listed twice: {', '.join(twice)}")
    return areas


@dataclass(frozen=True)
class Assembly:
    """Everything the kernel builds from a list of areas."""

    areas: tuple[Area, ...]
    api_controllers: tuple[Any, ...] = field(init=False)
    console_controllers: tuple[Any, ...] = field(init=False)
    nav: tuple[NavItem, ...] = field(init=False)
    templates: tuple[Path, ...] = field(init=False)
    dashboard_counters: tuple[tuple[str, Counter], ...] = field(init=False)
    scopes: ScopeTable = field(init=False)
    hooks: HookTable = field(init=False)

    def __post_init__(self) -> None:
        areas = check_areas(self.areas)
        templates: list[Path] = []
        for area in areas:
            templates += [path for path in area.templates if path not in templates]
        values = {
            "areas": areas,
            "api_controllers": tuple(c for area in areas for c in area.api_controllers),
            "console_controllers": tuple(c for area in areas for c in area.console_controllers),
            "nav": tuple(item for area in areas for item in area.nav),
            "templates": tuple(templates),
            "dashboard_counters": tuple(c for area in areas for c in area.dashboard_counters),
            "scopes": ScopeTable.of(
                [*PLATFORM_LEVEL_SCOPES, *(s for area in areas for s in area.scopes)]
            ),
            "hooks": HookTable(hook for area in areas for hook in area.hooks),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def job_registry(self) -> JobRegistry:
        """A new registry holding every area's jobs and event handlers."""
        return JobRegistry.of(
            spec for area in self.areas for spec in (*area.jobs, *area.event_handlers)
        )

    def install(self) -> None:
        """Make this assembly's hooks and scopes the process's (see platform.hooks)."""
        install_hooks(self.hooks)
        install_scopes(self.scopes)


def assemble(areas: Iterable[Area] | None = None) -> Assembly:
    """The assembly of `areas`, or of the listed ones (load_areas) when None."""
    return Assembly(tuple(load_areas() if areas is None else areas))


@contextmanager
def installed(assembly: Assembly) -> Iterator[Assembly]:
    """`assembly`'s hooks and scopes for the duration; the previous ones afterwards."""
    hooks, scopes = install_hooks(assembly.hooks), install_scopes(assembly.scopes)
    try:
        yield assembly
    finally:
        install_hooks(hooks)
        install_scopes(scopes)
