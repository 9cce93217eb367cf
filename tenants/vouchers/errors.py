"""What voucher operations refuse: bad input names its field; a voucher or batch that is
missing (or not the asking agent's) is simply not found."""

from __future__ import annotations


class VoucherError(ValueError):
    """Bad input or a state that forbids the operation; `field` names what was wrong.
    `status_code` is 400, or 409 where the input is fine but the voucher's state is not."""

    def __init__(self, field: str, message: str, *, status_code: int = 400):
        super().__init__(message)
        self.field = field
        self.message = message
        self.status_code = status_code


class VoucherNotFound(LookupError):
    """No such voucher or batch here (or one that the asking agent may not see)."""

    def __init__(self, message: str, *, field: str = "id"):
        super().__init__(message)
        self.field = field
        self.message = message
