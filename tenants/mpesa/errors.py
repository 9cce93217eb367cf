"""M-Pesa's errors: refusals that name the field (answered 4xx or 502 by the web layer)."""

from __future__ import annotations

from kiunga.platform.errors import DomainError, Kind


class MpesaError(DomainError, ValueError):
    """Bad input or a refused operation (400); `field` names what was wrong."""


class MpesaNotFound(MpesaError):
    kind = Kind.NOT_FOUND


class MpesaConflict(MpesaError):
    kind = Kind.CONFLICT


class MpesaUnavailable(MpesaError):
    """Daraja refused or could not be reached (502 to our caller)."""

    kind = Kind.UNAVAILABLE
