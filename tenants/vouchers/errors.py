"""What voucher operations refuse: bad input names its field; a voucher or batch that is
missing (or not the asking agent's) is simply not found."""

from __future__ import annotations

from kiunga.platform.errors import KINDS, DomainError, NotFoundError


class VoucherError(DomainError, ValueError):
    """Bad input or a state that forbids the operation; `field` names what was wrong.
    `status_code` is 400, or 409 where the input is fine but the voucher's state is not
    (404 for a package or reseller named in the input that does not exist)."""

    def __init__(self, field: str, message: str, *, status_code: int = 400):
        super().__init__(field, message, kind=KINDS[status_code])


class VoucherNotFound(NotFoundError):
    """No such voucher or batch here (or one that the asking agent may not see)."""

    def __init__(self, message: str, *, field: str = "id"):
        super().__init__(message, field=field)
