"""The init plugin that turns a bare Litestar app into Kiunga's web process: routes,
dependencies, middleware, sessions, CSRF, templates, OpenAPI, metrics and error pages.
The areas' routes, pages, navigation, templates and dashboard counters come from the
assembly of their manifests (kiunga.platform.areas) it is given."""

from __future__ import annotations

from pathlib import Path

from kiunga.platform.areas import Assembly
from kiunga.platform.auth.derived_keys import derive_key
from kiunga.platform.errors import DomainError
from kiunga.platform.web.api.api_keys import ApiKeyController
from kiunga.platform.web.api.platform_tenants import PlatformTenantController
from kiunga.platform.web.console.auth import LoginController
from kiunga.platform.web.console.home import home
from kiunga.platform.web.console.invitations import InvitationController
from kiunga.platform.web.console.platform_admin import (
    PlatformConsoleController,
    RadiusClientsPageController,
)
from kiunga.platform.web.console.rendering import NavItem
from kiunga.platform.web.console.template_filters import add_template_filters
from kiunga.platform.web.dependencies import DEPENDENCIES
from kiunga.platform.web.errors import (
    database_refusal_handler,
    document_api_errors,
    domain_error_handler,
    http_exception_handler,
    internal_error_handler,
)
from kiunga.platform.web.guards import fence_guard
from kiunga.platform.web.health import healthz, readyz
from kiunga.platform.web.metrics import MetricsController, prometheus_config
from kiunga.platform.web.middleware import (
    CSRF_COOKIE,
    BearerAwareCSRFMiddleware,
    TenancyMiddleware,
    stamp_response,
)
from kiunga.platform.web.services import WebServices
from litestar.config.app import AppConfig
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import InitPluginProtocol
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from sqlalchemy.exc import DBAPIError

WEB_DIR = Path(__file__).resolve().parent
SESSION_COOKIE = "kiunga_session"
SESSION_MAX_AGE_SECONDS = 12 * 3600
# Neither probes nor static files need a session or a CSRF cookie.
NO_COOKIES = ["^/healthz$", "^/readyz$", "^/metrics$", "^/static/"]


def session_config(services: WebServices) -> CookieBackendConfig:
    settings = services.settings
    # AES-GCM encrypted and authenticated; host-only (no Domain attribute), so a cookie
    # from one ISP's host is never sent to another's.
    return CookieBackendConfig(
        secret=derive_key(settings.secret_key, "session-cookie"),
        key=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=settings.is_production,
        domain=None,
        exclude=NO_COOKIES,
    )


def csrf_config(services: WebServices) -> CSRFConfig:
    settings = services.settings
    return CSRFConfig(
        secret=derive_key(settings.secret_key, "csrf").hex(),
        cookie_name=CSRF_COOKIE,
        header_name="x-csrftoken",
        cookie_httponly=True,  # pages carry the token in forms and in htmx's headers
        cookie_samesite="lax",
        cookie_secure=settings.is_production,
        exclude=NO_COOKIES,
    )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Kiunga API",
        version="1",
        description=(
            "The tenant API of an ISP on Kiunga. Call it on the ISP's host "
            "(`<slug>.<base domain>`) or on the base domain, with "
            "`Authorization: Bearer kg_…` (an API key of that ISP)."
        ),
        path="/docs",
        # Served from our own static files: the docs must work without internet access.
        render_plugins=[
            SwaggerRenderPlugin(
                path="/",
                js_url="/static/swagger/swagger-ui-bundle.js",
                css_url="/static/swagger/swagger-ui.css",
                standalone_preset_js_url="/static/swagger/swagger-ui-standalone-preset.js",
            )
        ],
        components=Components(
            security_schemes={
                "BearerAuth": SecurityScheme(
                    type="http", scheme="bearer", description="An API key: kg_<prefix>_<secret>"
                )
            }
        ),
    )


class KiungaWebPlugin(InitPluginProtocol):
    def __init__(self, services: WebServices, assembly: Assembly):
        self.services = services
        self.assembly = assembly

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        services, assembly = self.services, self.assembly
        api_controllers = [
            PlatformTenantController,
            ApiKeyController,
            *assembly.api_controllers,
        ]
        document_api_errors(api_controllers)
        app_config.route_handlers.extend(
            [
                healthz,
                readyz,
                MetricsController,
                home,
                LoginController,
                InvitationController,
                PlatformConsoleController,
                RadiusClientsPageController,
                *api_controllers,
                *assembly.console_controllers,
                create_static_files_router(
                    path="/static", directories=[WEB_DIR / "static"], opt={"skip_session": True}
                ),
            ]
        )
        app_config.dependencies.update(DEPENDENCIES)
        app_config.guards = [fence_guard, *app_config.guards]
        app_config.middleware = [
            prometheus_config().middleware,
            session_config(services).middleware,
            DefineMiddleware(TenancyMiddleware),
            DefineMiddleware(BearerAwareCSRFMiddleware, config=csrf_config(services)),
            *app_config.middleware,
        ]
        app_config.before_send.append(stamp_response)
        app_config.exception_handlers.update(
            {
                HTTPException: http_exception_handler,
                DomainError: domain_error_handler,
                DBAPIError: database_refusal_handler,
                Exception: internal_error_handler,
            }
        )
        app_config.template_config = TemplateConfig(
            directory=[WEB_DIR / "templates", *assembly.templates],
            engine=JinjaTemplateEngine,
            engine_callback=add_template_filters,
        )
        app_config.openapi_config = openapi_config()
        app_config.state["services"] = services
        development = services.settings.environment == "development"
        app_config.state["console_nav"] = (
            NavItem("Dashboard", "/"),
            *(item for item in assembly.nav if development or not item.development_only),
        )
        app_config.state["dashboard_counters"] = assembly.dashboard_counters

        async def close_services() -> None:
            await services.close()

        app_config.on_shutdown.append(close_services)
        # Logging is structlog's (configured by the app factory), not Litestar's default.
        app_config.logging_config = None
        return app_config
