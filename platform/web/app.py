"""The app factory: `create_app()` builds Kiunga's ASGI web app.

    uvicorn --factory kiunga.platform.web.app:create_app

(`kiunga serve` uses `create_served_app`: the same app, tuned for a long-running process.)

With no arguments it reads the settings from the environment and, when no database or
Redis URL is configured, starts (or attaches to) the embedded servers. Tests pass the URLs.
The areas are those listed in pyproject.toml (kiunga.platform.areas) unless others are
given; their hooks and scopes become the process's.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from kiunga.platform.areas import Area, assemble
from kiunga.platform.devservices import ensure_services
from kiunga.platform.heap import freeze_startup_objects
from kiunga.platform.settings import Settings, get_settings
from kiunga.platform.web.log_config import configure_logging
from kiunga.platform.web.middleware import begin_request
from kiunga.platform.web.plugin import KiungaWebPlugin
from kiunga.platform.web.services import WebServices
from litestar import Litestar
from litestar.types import Receive, Scope, Send


class KiungaApp(Litestar):
    """Litestar, with each HTTP request given its id before anything else runs, so that
    every log line of the request (and its error response) can carry it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request_id = begin_request(scope)
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await super().__call__(scope, receive, send)

    @property
    def services(self) -> WebServices:
        return self.state.services


def create_app(
    settings: Settings | None = None,
    database_url: str | None = None,
    redis_url: str | None = None,
    areas: Iterable[Area] | None = None,
) -> KiungaApp:
    settings = settings or get_settings()
    database_url = database_url or settings.database_url
    redis_url = redis_url or settings.redis_url
    if database_url is None or redis_url is None:
        urls = ensure_services(settings)
        database_url = database_url or urls.database_url
        redis_url = redis_url or urls.redis_url
    configure_logging(settings.log_level, settings.log_json)
    assembly = assemble(areas)
    assembly.install()
    services = WebServices.build(settings, database_url, redis_url)
    return KiungaApp(plugins=[KiungaWebPlugin(services, assembly)], debug=False)


def create_served_app() -> KiungaApp:
    """The app of a `kiunga serve` process (each of its workers): once started, the objects
    start-up made are kept out of the garbage collector's full collections (see
    `kiunga.platform.heap`). Not for apps made in a process that makes many (the tests):
    whatever each start-up holds would be kept for good."""
    app = create_app()
    app.on_startup.append(freeze_startup_objects)
    return app
