"""JSON for everything arq writes to Redis (jobs and results), never pickle.

Pickle would let anyone who can write to Redis run code in the worker, and ties queued
jobs to the exact classes of the code that enqueued them. Job arguments are checked to be
plain ids before they are enqueued (see `registry.check_ids`), so the fallback below only
ever applies to results and errors, which are informational.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any


def _fallback(value: Any) -> Any:
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


def serialize(value: Any) -> bytes:
    return json.dumps(value, default=_fallback, separators=(",", ":")).encode()


def deserialize(data: bytes | str) -> Any:
    return json.loads(data)


SERIALIZERS = {"job_serializer": serialize, "job_deserializer": deserialize}
