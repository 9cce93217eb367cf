"""Answer schemas filled from a row: most of them name their fields as the row names its
attributes, so only the fields that differ need saying."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

S = TypeVar("S", bound=msgspec.Struct)


def read_of(cls: type[S], row: Any, **given: Any) -> S:
    """`cls` with each field read from `row`'s attribute of the same name, except those
    `given` (which may also supply fields the row lacks)."""
    values = {f: getattr(row, f) for f in cls.__struct_fields__ if f not in given}
    return cls(**values, **given)
