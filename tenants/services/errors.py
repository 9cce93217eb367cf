"""Services' errors: the API turns each into a 4xx answer naming the field and the reason."""

from __future__ import annotations


class ServiceError(ValueError):
    """Bad input (400); `field` names what was wrong."""

    status_code = 400

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class ServiceConflict(ServiceError):
    """The request clashes with the present state (409): a second overlapping activation,
    a username or address already in use, an action the service's status does not allow."""

    status_code = 409


class ServiceNotFound(LookupError):
    def __init__(self, service_id: int):
        super().__init__(f"no service with id {service_id}")
        self.field = "service_id"
        self.message = str(self)
