"""M-Pesa's errors: the API turns them into 4xx answers that name the field."""

from __future__ import annotations


class MpesaError(ValueError):
    """Bad input or a refused operation (400); `field` names what was wrong."""

    status_code = 400

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class MpesaNotFound(MpesaError):
    status_code = 404


class MpesaConflict(MpesaError):
    status_code = 409


class MpesaUnavailable(MpesaError):
    """Daraja refused or could not be reached (502 to our caller)."""

    status_code = 502
