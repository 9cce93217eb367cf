"""One shape for every error: `{"status_code", "detail", "errors": [{"field", "message"}]}`
for API clients, a small page for people in the console.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    ValidationException,
)
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_409_CONFLICT, HTTP_500_INTERNAL_SERVER_ERROR

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


def internal_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", error_type=type(exc).__name__)
    return http_exception_handler(
        request,
        HTTPException(
            status_code=HTTP_500_INTERNAL_SERVER_ERROR,
            detail="Something went wrong on our side; it has been logged.",
        ),
    )
