"""Services' errors: refusals naming the field and the reason (answered 4xx by the web
layer)."""

from __future__ import annotations

from kiunga.platform.errors import DomainError, Kind, NotFoundError


class ServiceError(DomainError, ValueError):
    """Bad input (400); `field` names what was wrong."""


class ServiceConflict(ServiceError):
    """The request clashes with the present state (409): a second overlapping activation,
    a username or address already in use, an action the service's status does not allow."""

    kind = Kind.CONFLICT


class ServiceNotFound(NotFoundError):
    """Forms show it beside `service_id`; the API's 404 names no field."""

    names_field = False

    def __init__(self, service_id: int):
        super().__init__(f"no service with id {service_id}", field="service_id")
