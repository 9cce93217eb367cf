"""Hooks: what one area asks other areas to do at a point of its own work, by kind.

An area that offers a hook point names its kind (a dotted string of its own, such as
"billing.payment") and runs `hooks_for(kind)` at that point; the areas that react list
`Hook(kind, fn)` in their manifest. Nothing registers itself when imported: the kernel
installs the table built from the manifests it assembled (the web app, the worker, the
CLI), and a process that assembled nothing has no table — asking for hooks then fails
rather than silently running none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hook:
    kind: str
    fn: Callable[..., Any]


class HookTable:
    """The hooks of each kind, in the order of the areas that listed them."""

    def __init__(self, hooks: Iterable[Hook] = ()) -> None:
        self._hooks = tuple(hooks)
        by_kind: dict[str, list[Callable[..., Any]]] = {}
        for hook in self._hooks:
            listed = by_kind.setdefault(hook.kind, [])
            if hook.fn not in listed:
                listed.append(hook.fn)
        self._by_kind = {kind: tuple(fns) for kind, fns in by_kind.items()}

    def __call__(self, kind: str) -> tuple[Callable[..., Any], ...]:
        return self._by_kind.get(kind, ())

    def with_hooks(self, *hooks: Hook) -> HookTable:
        """This table and `hooks` after it (a test's extra hook, say)."""
        return HookTable((*self._hooks, *hooks))

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._by_kind)

    def __len__(self) -> int:
        return sum(len(fns) for fns in self._by_kind.values())


class HooksNotInstalled(RuntimeError):
    """A hook point was reached in a process that assembled no areas."""


_installed: HookTable | None = None


def install_hooks(table: HookTable | None) -> HookTable | None:
    """Make `table` the process's hooks; returns the one it replaces (to put it back)."""
    global _installed
    previous, _installed = _installed, table
    return previous


def installed_hooks() -> HookTable | None:
    return _installed


def hooks_for(kind: str) -> tuple[Callable[..., Any], ...]:
    if _installed is None:
        raise HooksNotInstalled(
            f"no hooks installed for {kind!r}: assemble the areas first "
            "(kiunga.platform.areas.install)"
        )
    return _installed(kind)
