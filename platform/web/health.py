"""Liveness and readiness, for load balancers and orchestrators (answered on any host)."""

from __future__ import annotations

import anyio
from kiunga.platform.web.dependencies import Services
from litestar import Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy import text

CHECK_TIMEOUT_SECONDS = 3.0
PROBE_OPT = {"any_host": True, "exclude_from_csrf": True, "skip_session": True}


@get("/healthz", opt=PROBE_OPT, tags=["health"], summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check_database(services: Services) -> None:
    async with services.database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _check_redis(services: Services) -> None:
    if not await services.redis.ping():
        raise RuntimeError("no PONG")


def _describe(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}"[:300] if message else type(exc).__name__


@get(
    "/readyz",
    opt=PROBE_OPT,
    tags=["health"],
    summary="The database and Redis are reachable",
    responses=None,
)
async def readyz(services: Services) -> Response[dict]:
    checks: dict[str, str] = {}
    for name, check in (("database", _check_database), ("redis", _check_redis)):
        try:
            with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
                await check(services)
        except TimeoutError:
            checks[name] = f"timed out after {CHECK_TIMEOUT_SECONDS:g} s"
        except Exception as exc:  # any failure means not ready; say which and why
            checks[name] = _describe(exc)
        else:
            checks[name] = "ok"
    ready = all(value == "ok" for value in checks.values())
    return Response(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=HTTP_200_OK if ready else HTTP_503_SERVICE_UNAVAILABLE,
    )
