"""Console sign-in and sign-out, on an ISP's host (its staff) or the base domain
(platform admins). Every failure reads the same, so nobody learns which emails exist."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.auth.sessions import end_sessions, normalise_email, session_data
from kiunga.platform.auth.signin import HashingBusy, authenticate_staff
from kiunga.platform.auth.throttle import CounterUnavailable, throttle_keys
from kiunga.platform.web.console.rendering import page, safe_next
from kiunga.platform.web.dependencies import Services
from kiunga.platform.web.metrics import LOGINS
from kiunga.platform.web.middleware import CSRF_COOKIE
from kiunga.platform.web.request_state import request_principal, request_tenant
from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect
from litestar.status_codes import (
    HTTP_401_UNAUTHORIZED,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_503_SERVICE_UNAVAILABLE,
)

GENERIC_FAILURE = "Email or password is incorrect."
THROTTLED = "Too many failed sign-ins. Wait a few minutes and try again."
BUSY = "Too many sign-ins at once. Try again in a few seconds."
BUSY_RETRY_SECONDS = 5


@dataclass
class LoginForm:
    email: str = ""
    password: str = ""
    next: str = "/"


FormBody = URLEncodedBody[LoginForm]


class LoginController(Controller):
    include_in_schema = False

    @get("/login")
    async def login_page(self, request: Request, next: FromQuery[str] = "/") -> Response:
        if isinstance(request_principal(request), StaffPrincipal):
            return Redirect(safe_next(next), status_code=303)
        return page(request, "login.html", next=safe_next(next), email="", error=None)

    @post("/login")
    async def login(self, request: Request, services: Services, data: FormBody) -> Response:
        email = normalise_email(data.email)
        keys = throttle_keys(request.client.host if request.client else None, email)
        throttle = services.login_throttle
        # Counted before the password is checked, so that concurrent guesses cannot all be.
        try:
            limited = await throttle.take(keys)
        except CounterUnavailable:
            return self._busy(request, data)
        if limited is not None:
            LOGINS.labels(outcome="throttled").inc()
            return self._failed(
                request, data, THROTTLED, HTTP_429_TOO_MANY_REQUESTS, limited.retry_after
            )
        tenant = request_tenant(request)
        try:
            principal = await authenticate_staff(
                services.database,
                services.password_gate,
                email=email,
                password=data.password,
                tenant_id=tenant.id if tenant else None,
            )
        except HashingBusy:
            await throttle.not_checked(keys)
            return self._busy(request, data)
        if principal is None:
            LOGINS.labels(outcome="failed").inc()
            return self._failed(request, data, GENERIC_FAILURE, HTTP_401_UNAUTHORIZED)
        await throttle.succeeded(keys)
        LOGINS.labels(outcome="ok").inc()
        request.set_session(session_data(principal))
        return _with_new_csrf_token(Redirect(safe_next(data.next), status_code=303))

    @classmethod
    def _busy(cls, request: Request, data: LoginForm):
        """The password could not be checked now (too many at once, or nothing to count
        the attempt with): try again shortly."""
        LOGINS.labels(outcome="busy").inc()
        return cls._failed(request, data, BUSY, HTTP_503_SERVICE_UNAVAILABLE, BUSY_RETRY_SECONDS)

    @staticmethod
    def _failed(
        request: Request,
        data: LoginForm,
        error: str,
        status_code: int,
        retry_after: int | None = None,
    ):
        answer = page(
            request,
            "login.html",
            status_code=status_code,
            next=safe_next(data.next),
            email=data.email,
            error=error,
        )
        if retry_after is not None:
            answer.headers["retry-after"] = str(retry_after)
        return answer

    @post("/logout")
    async def logout(self, request: Request, services: Services) -> Redirect:
        principal = request_principal(request)
        if isinstance(principal, StaffPrincipal):
            # Server-side: a copy of this cookie (or the same account's cookie on another
            # device) must stop working too, not only the one the browser deletes.
            async with services.database.platform_session() as session:
                await end_sessions(session, principal.staff_id)
                await session.commit()
            services.staff_sessions.invalidate()
        request.clear_session()
        return _with_new_csrf_token(Redirect("/login", status_code=303))


def _with_new_csrf_token(response: Response) -> Response:
    # The next page sets a fresh token: one seen before signing in (or by the person who
    # signed out) is worth nothing after.
    response.delete_cookie(CSRF_COOKIE)
    return response
