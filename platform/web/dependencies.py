"""What handlers can ask for by name: `tenant`, `tenant_session`, `platform_session`,
`principal`, `services`.

`tenant_session` is bound to exactly the request's tenant; it commits when the handler
returns normally and rolls back when it raises, so a service function only flushes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

from kiunga.platform.auth.principals import Principal
from kiunga.platform.web.request_state import request_principal, request_tenant
from kiunga.platform.web.services import WebServices, services_of
from kiunga.platform.web.tenancy import TenantContext
from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import SkipValidation
from sqlalchemy.ext.asyncio import AsyncSession

# Annotations for handler parameters: the parameter's name picks the provider below.
Services: TypeAlias = NamedDependency[WebServices]
CurrentTenant: TypeAlias = NamedDependency[TenantContext]
# A union of two dataclasses, which validation cannot convert; it is ours, so trusted.
CurrentPrincipal: TypeAlias = NamedDependency[SkipValidation[Principal]]
TenantSession: TypeAlias = NamedDependency[AsyncSession]
PlatformSession: TypeAlias = NamedDependency[AsyncSession]


async def provide_services(request: Request) -> WebServices:
    return services_of(request)


async def provide_tenant(request: Request) -> TenantContext:
    tenant = request_tenant(request)
    if tenant is None:
        raise NotFoundException("Not found")
    return tenant


async def provide_principal(request: Request) -> Principal:
    principal = request_principal(request)
    if principal is None:
        raise NotAuthorizedException("Not signed in")
    return principal


async def provide_tenant_session(
    request: Request, tenant: CurrentTenant
) -> AsyncIterator[AsyncSession]:
    async with services_of(request).database.tenant_session(tenant.schema) as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        if session.in_transaction():
            await session.commit()


async def provide_platform_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with services_of(request).database.platform_session() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        if session.in_transaction():
            await session.commit()


DEPENDENCIES = {
    "services": Provide(provide_services),
    "tenant": Provide(provide_tenant),
    "principal": Provide(provide_principal),
    "tenant_session": Provide(provide_tenant_session),
    "platform_session": Provide(provide_platform_session),
}
