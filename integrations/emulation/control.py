"""Helpers for an emulator's own /emulator/... endpoints, and the control routes both
messaging emulators (Africa's Talking, Twilio) have: faults, the outbox and its stats, the
log, health. A control request that is refused gets a 400 (or the status given) with
{"error": reason}."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Container
from dataclasses import asdict
from typing import Any

from kiunga.integrations.emulation.state import MessagingState
from litestar import Request, Response, delete, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromQuery

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
HTTP_URL = re.compile(r"^https?://[^\s/]+\S*$")

Action = Callable[[dict[str, Any]], Awaitable[Response]]


class BadControlRequest(Exception):
    """A control request the emulator refuses; its message is the reason given back."""


def problem(message: str, status: int = 400) -> Response:
    return Response({"error": message}, status_code=status)


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise BadControlRequest("the body must be JSON") from None
    if not isinstance(body, dict):
        raise BadControlRequest("the body must be a JSON object")
    return body


async def guarded(request: Request, action: Action) -> Response:
    """`action` on the request's JSON object; a refusal or a value of the wrong type is a 400."""
    try:
        body = await json_object(request)
        return await action(body)
    except BadControlRequest as error:
        return problem(str(error))
    except (TypeError, ValueError) as error:
        return problem(str(error))


def string_field(body: dict[str, Any], key: str, *, required: bool, limit: int) -> str:
    """body[key], a string of at most `limit` characters ('' when absent and not required)."""
    value = body.get(key)
    if value is None:
        if required:
            raise BadControlRequest(f"{key} is required")
        return ""
    if not isinstance(value, str):
        raise BadControlRequest(f"{key} must be a string")
    if len(value) > limit:
        raise BadControlRequest(f"{key} is longer than {limit} characters")
    return value


def fault_routes(
    state: MessagingState[Any], *, statuses: Container[int], statuses_rule: str
) -> list[HTTPRouteHandler]:
    """POST /emulator/faults {status (one of `statuses`, else 400 `statuses_rule`), count?,
    seconds?}: the send API fails with `status` for the next `count` requests or for
    `seconds` (one request when neither is given); DELETE clears."""

    @post("/emulator/faults", status_code=200)
    async def add_fault(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            status = int(body.get("status", 500))
            if status not in statuses:
                raise BadControlRequest(statuses_rule)
            count = body.get("count")
            seconds = body.get("seconds")
            if count is None and seconds is None:
                count = 1
            count = int(count) if count is not None else None
            seconds = float(seconds) if seconds is not None else None
            if count is not None and not 1 <= count <= 1_000_000:
                raise BadControlRequest("count must be between 1 and 1000000")
            if seconds is not None and not 0 < seconds <= 3600:
                raise BadControlRequest("seconds must be between 0 and 3600")
            state.add_fault(status, count, seconds)
            return Response(
                {
                    "faults": [asdict(fault) for fault in state.faults],
                    "failed": state.failed_requests,
                }
            )

        return await guarded(request, action)

    @delete("/emulator/faults", status_code=204, sync_to_thread=False)
    def clear_faults() -> None:
        state.faults.clear()

    return [add_fault, clear_faults]


def outbox_routes(state: MessagingState[Any], prefix: str) -> list[HTTPRouteHandler]:
    """GET {prefix}/outbox?phone= (what was accepted, to `phone` or all; DELETE clears) and
    GET {prefix}/stats (accepted, distinct, duplicates, failed_requests)."""

    @get(f"{prefix}/outbox", sync_to_thread=False)
    def outbox(phone: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        return [message.public() for message in state.messages_to(phone)]

    @delete(f"{prefix}/outbox", status_code=204, sync_to_thread=False)
    def clear_outbox() -> None:
        state.clear_outbox()

    @get(f"{prefix}/stats", sync_to_thread=False)
    def stats() -> dict[str, Any]:
        return {
            "accepted": len(state.outbox),
            "distinct": len(state.accepted),
            "duplicates": state.duplicates(),
            "failed_requests": state.failed_requests,
        }

    return [outbox, clear_outbox, stats]


def log_routes(state: MessagingState[Any]) -> list[HTTPRouteHandler]:
    """GET /emulator/log?kind=&since=<id> (DELETE clears) and GET /emulator/health."""

    @get("/emulator/log", sync_to_thread=False)
    def read_log(
        kind: FromQuery[str | None] = None, since: FromQuery[int] = 0
    ) -> list[dict[str, Any]]:
        return [
            entry
            for entry in list(state.log)
            if entry["id"] > since and (kind is None or entry["kind"] == kind)
        ]

    @delete("/emulator/log", status_code=204, sync_to_thread=False)
    def clear_log() -> None:
        state.log.clear()

    @get("/emulator/health", sync_to_thread=False)
    def health() -> dict[str, Any]:
        return {"status": "ok", "time": time.time()}

    return [read_log, clear_log, health]
