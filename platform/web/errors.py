"""One shape for every error: `{"status_code", "detail", "errors": [{"field", "message"}]}`
for API clients, a small page for people in the console.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import msgspec
import structlog
from kiunga.platform.errors import DomainError
from litestar import Controller, MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    ValidationException,
)
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_409_CONFLICT, HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DataError, DBAPIError

log = structlog.get_logger("kiunga.web")

# Paths whose clients are programs: they always get JSON, whatever they accept.
MACHINE_PREFIXES = ("/api/", "/platform/api/", "/docs", "/healthz", "/readyz", "/metrics")
_BACKTICKED = re.compile(r"field `([^`]+)`")


class FieldError(HTTPException):
    """Bad input for one named field (400, or `status_code` such as 409 for a duplicate)."""

    status_code = 400

    def __init__(self, field: str, message: str, *, status_code: int | None = None):
        super().__init__(
            detail=message,
            status_code=status_code or self.status_code,
            extra=[{"field": field, "message": message}],
        )


class Conflict(FieldError):
    status_code = HTTP_409_CONFLICT


class LoginRequired(NotAuthorizedException):
    """A console page was asked for without a signed-in staff member: go to /login."""


def wants_html(request: Request) -> bool:
    if request.url.path.startswith(MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def field_errors(exc: HTTPException) -> list[dict[str, str]]:
    extra: Any = exc.extra
    if not isinstance(extra, list):
        return []
    errors = []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", ""))
        field = item.get("field") or item.get("key") or ""
        if field in ("", "data"):
            # msgspec names a missing or unknown field only inside its message.
            named = _BACKTICKED.search(message)
            field = named.group(1) if named else "body"
        errors.append({"field": str(field), "message": message})
    return errors


def error_body(exc: HTTPException) -> dict[str, Any]:
    errors = field_errors(exc)
    detail = exc.detail
    if isinstance(exc, ValidationException) and errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return {"status_code": exc.status_code, "detail": detail, "errors": errors}


def login_redirect(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    url = "/login?next=" + quote(target, safe="/")
    if request.headers.get("hx-request"):
        # htmx would swap the login page into a fragment; ask it to navigate instead.
        return Response(content="", status_code=200, headers={"HX-Redirect": url})
    return Redirect(url, status_code=303)


def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, LoginRequired) and not request.url.path.startswith(MACHINE_PREFIXES):
        return login_redirect(request)
    body = error_body(exc)
    if wants_html(request):
        return Template(
            template_name="error.html",
            context={"status_code": exc.status_code, "detail": body["detail"]},
            status_code=exc.status_code,
            headers=exc.headers,
        )
    return Response(
        content=body, status_code=exc.status_code, headers=exc.headers, media_type=MediaType.JSON
    )


def as_http_exception(exc: DomainError) -> HTTPException:
    """A business refusal as the HTTP error it is answered with: its field named in
    `errors` when it names one, else the message alone."""
    if exc.answer_field is not None:
        return FieldError(exc.answer_field, exc.message, status_code=exc.status_code)
    return HTTPException(status_code=exc.status_code, detail=exc.message)


def domain_error_handler(request: Request, exc: DomainError) -> Response:
    """Any refusal an area raised and its controller let through: the API's JSON error,
    or the console's error page (a form that shows the refusal beside its input catches it
    itself, see `DomainError.form_errors`)."""
    return http_exception_handler(request, as_http_exception(exc))


def internal_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", error_type=type(exc).__name__)
    return http_exception_handler(
        request,
        HTTPException(
            status_code=HTTP_500_INTERNAL_SERVER_ERROR,
            detail="Something went wrong on our side; it has been logged.",
        ),
    )


class ErrorItem(msgspec.Struct):
    field: str
    message: str


class ErrorBody(msgspec.Struct):
    """The body of every error answer (documented once, for every API operation)."""

    status_code: int
    detail: str
    errors: list[ErrorItem]


# What any API operation can answer besides its success: bad input, no or a bad key, a
# missing scope, an unknown host or id, a conflicting write, too many requests.
_API_ERRORS = {
    400: "Bad input; `errors` names each field",
    401: "No API key, or one unknown, revoked or expired, or not for this host",
    403: "The key lacks a scope this operation needs, or the ISP is disabled",
    404: "No ISP at this host, or no such record",
    409: "The change conflicts with a record that exists",
    413: "The request body is too large",
    429: "Too many requests; retry later",
}


def document_api_errors(controllers: list[type[Controller]]) -> None:
    """Add the error answers to each API operation of these controllers, for the OpenAPI
    document (before the app registers them: it copies their handlers)."""
    for controller in controllers:
        for value in vars(controller).values():
            if not isinstance(value, HTTPRouteHandler):
                continue
            documented = dict(value.responses or {})
            for status_code, description in _API_ERRORS.items():
                documented.setdefault(
                    status_code, ResponseSpec(data_container=ErrorBody, description=description)
                )
            value.responses = documented


def database_refusal_handler(request: Request, exc: DBAPIError) -> Response:
    """A value PostgreSQL refuses (out of range, NUL in text) is the caller's bad input:
    400. The bounded input types stop these first; this is the floor under them."""
    if isinstance(exc, DataError):
        log.warning("input refused by the database", error_type=type(exc.orig).__name__)
        return http_exception_handler(
            request, HTTPException(status_code=400, detail="A value is out of range or invalid")
        )
    return internal_error_handler(request, exc)
