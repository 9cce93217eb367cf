"""The page an invitation link opens, on the inviting ISP's host: set a password (a new
account) or confirm with an existing account's password, then sign in as usual."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.auth.invitations import (
    InvitationError,
    accept_invitation,
    find_invitation,
    invitation_path,
)
from kiunga.platform.auth.passwords import MIN_PASSWORD_LENGTH
from kiunga.platform.auth.throttle import CounterUnavailable, throttle_keys
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import Services
from kiunga.platform.web.guards import tenant_only
from kiunga.platform.web.request_state import request_tenant
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_503_SERVICE_UNAVAILABLE,
)

THROTTLED = "Too many wrong passwords. Wait a few minutes and try again."
BUSY = "The password cannot be checked just now. Try again in a few seconds."


@dataclass
class AcceptForm:
    password: str = ""


class InvitationController(Controller):
    path = "/invitations"
    include_in_schema = False
    guards = [tenant_only]

    @get("/{token:str}")
    async def invitation_page(
        self, request: Request, services: Services, token: FromPath[str]
    ) -> Response:
        tenant = request_tenant(request)
        async with services.database.platform_session() as session:
            invitation = await find_invitation(session, token, tenant.id)
        return self._page(request, token, invitation)

    @post("/{token:str}")
    async def accept(
        self,
        request: Request,
        services: Services,
        token: FromPath[str],
        data: URLEncodedBody[AcceptForm],
    ) -> Response:
        tenant = request_tenant(request)
        async with services.database.platform_session() as session:
            invitation = await find_invitation(session, token, tenant.id)
            if invitation is None:
                return self._page(request, token, None)
            # Confirming with an existing account's password is a sign-in attempt: it is
            # counted against the same brake as the sign-in form, before it is checked.
            keys = throttle_keys(request.client.host if request.client else None, invitation.email)
            throttle = services.login_throttle if invitation.account_exists else None
            if throttle is not None:
                try:
                    limited = await throttle.take(keys)
                except CounterUnavailable:
                    return self._page(
                        request, token, invitation, BUSY, HTTP_503_SERVICE_UNAVAILABLE
                    )
                if limited is not None:
                    return self._page(
                        request, token, invitation, THROTTLED, HTTP_429_TOO_MANY_REQUESTS
                    )
            try:
                await accept_invitation(session, token, tenant.id, password=data.password)
            except InvitationError as exc:
                await session.rollback()
                if throttle is not None and exc.field != "password":
                    await throttle.not_checked(keys)
                return self._page(request, token, invitation, exc.message, HTTP_400_BAD_REQUEST)
            await session.commit()
            if throttle is not None:
                await throttle.succeeded(keys)
        services.staff_sessions.invalidate()
        return Redirect("/login", status_code=303)

    @staticmethod
    def _page(request, token, invitation, error=None, status_code=None) -> Response:
        return page(
            request,
            "invitation.html",
            status_code=status_code or (200 if invitation else HTTP_404_NOT_FOUND),
            invitation=invitation,
            action=invitation_path(token),
            min_length=MIN_PASSWORD_LENGTH,
            error=error,
        )
