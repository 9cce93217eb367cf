"""Business refusals: one type that every area's errors derive from.

An area raises a refusal where the rule lives (a service, a validator) and lets it travel:
the web layer has one handler that answers any refusal with the API's JSON error or the
console's error page, so no controller translates errors itself. The type knows nothing
of HTTP beyond the status its kind is answered with.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class Kind(StrEnum):
    """Why an operation was refused, which decides the status it is answered with."""

    INVALID = "invalid"  # the input is wrong (400)
    FORBIDDEN = "forbidden"  # the caller may not do this (403)
    NOT_FOUND = "not_found"  # no such record, or none the caller may see (404)
    CONFLICT = "conflict"  # the input is fine but clashes with what exists (409)
    UNAVAILABLE = "unavailable"  # an outside system refused or did not answer (502)


STATUS_CODES: dict[Kind, int] = {
    Kind.INVALID: 400,
    Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404,
    Kind.CONFLICT: 409,
    Kind.UNAVAILABLE: 502,
}
KINDS: dict[int, Kind] = {status: kind for kind, status in STATUS_CODES.items()}


class DomainError(Exception):
    """A refused business operation: `message` says why, `field` names the input at fault
    (None when no one field is; the answer then lists no field).

    A subclass sets its `kind`; one raise can override it (`kind=Kind.CONFLICT`).
    `names_field = False` keeps `field` for forms but leaves it out of the API's answer,
    for refusals whose answer never named one.
    """

    kind: ClassVar[Kind] = Kind.INVALID
    names_field: ClassVar[bool] = True

    def __init__(self, field: str | None, message: str, *, kind: Kind | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        if kind is not None:
            self.kind = kind  # type: ignore[misc]  (one instance, not the class)

    @property
    def status_code(self) -> int:
        return STATUS_CODES[self.kind]

    @property
    def answer_field(self) -> str | None:
        """The field the answer names, if any."""
        return self.field if self.names_field else None

    def form_errors(self, prefix: str = "") -> dict[str, str]:
        """The refusal as a form's errors: the message under its field's input name."""
        return {f"{prefix}{self.field or ''}": self.message}


class NotFoundError(DomainError, LookupError):
    """No such record here, or none the caller may see (404). Raised with its message
    alone; the answer names a field only when one is given."""

    kind = Kind.NOT_FOUND

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(field, message)
