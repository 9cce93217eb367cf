"""What both messaging emulators (Africa's Talking, Twilio) keep in the same way: every
message the send API accepted (the outbox) and how often (duplicates), the fault switch that
makes the send API fail, a bounded log of every callback POSTed, the HTTP client those go out
with and the background tasks (delayed status callbacks) in flight.

The M-Pesa emulator keeps its own: its faults are named Daraja failures per path, not HTTP
statuses, and its log is kept whole (callbacks are re-delivered from it by id)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import httpx

# The log keeps this many entries, the newest.
LOG_LIMIT = 5000


class SentMessage(Protocol):
    to: str

    def public(self) -> dict[str, Any]: ...


Message = TypeVar("Message", bound=SentMessage)


@dataclass
class Fault:
    """The send API answers `status` instead of working: for the next `remaining` requests,
    or until `until` (a time.monotonic() value)."""

    status: int
    remaining: int | None
    until: float | None


class MessagingState(Generic[Message]):
    """The base of a messaging emulator's state. A subclass says what makes two messages the
    same one (`duplicate_key`, its parts named by `duplicate_fields`) and what a message's
    id is (`message_id`)."""

    duplicate_fields: ClassVar[tuple[str, str, str]] = ("account", "to", "message")

    def __init__(self) -> None:
        self.outbox: list[Message] = []
        # duplicate key → how many times the API accepted it: anything above one is a
        # message a subscriber got twice.
        self.accepted: Counter[tuple[str, str, str]] = Counter()
        self.faults: list[Fault] = []
        self.failed_requests = 0
        self.log: list[dict[str, Any]] = []
        self._log_ids = itertools.count(1)
        self._lock = threading.Lock()
        self.http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def duplicate_key(self, message: Message) -> tuple[str, str, str]:
        raise NotImplementedError

    def message_id(self, message: Message) -> str:
        raise NotImplementedError

    # --- faults -----------------------------------------------------------------------------

    def add_fault(self, status: int, count: int | None, seconds: float | None) -> Fault:
        fault = Fault(
            status=status,
            remaining=count,
            until=time.monotonic() + seconds if seconds is not None else None,
        )
        with self._lock:
            self.faults.append(fault)
        return fault

    def take_fault(self) -> int | None:
        """The status to fail this send with, if a fault is active (used up as it goes)."""
        now = time.monotonic()
        with self._lock:
            self.faults = [
                f
                for f in self.faults
                if (f.remaining is None or f.remaining > 0) and (f.until is None or f.until > now)
            ]
            if not self.faults:
                return None
            fault = self.faults[0]
            if fault.remaining is not None:
                fault.remaining -= 1
            self.failed_requests += 1
            return fault.status

    # --- the outbox -------------------------------------------------------------------------

    def accept(self, message: Message) -> None:
        with self._lock:
            self.outbox.append(message)
            self.accepted[self.duplicate_key(message)] += 1

    def messages_to(self, phone: str | None = None) -> list[Message]:
        with self._lock:
            return [m for m in self.outbox if phone is None or m.to == phone]

    def find(self, message_id: str) -> Message | None:
        with self._lock:
            for message in self.outbox:
                if self.message_id(message) == message_id:
                    return message
        return None

    def duplicates(self) -> list[dict[str, Any]]:
        first, second, third = self.duplicate_fields
        with self._lock:
            return [
                {first: a, second: b, third: c, "count": count}
                for (a, b, c), count in self.accepted.items()
                if count > 1
            ]

    def clear_outbox(self) -> None:
        with self._lock:
            self.outbox.clear()
            self.accepted.clear()

    # --- callbacks ----------------------------------------------------------------------------

    def record(self, **entry: Any) -> dict[str, Any]:
        entry = {"id": next(self._log_ids), "at": datetime.now(UTC).isoformat(), **entry}
        with self._lock:
            self.log.append(entry)
            del self.log[:-LOG_LIMIT]
        return entry

    async def post_form(
        self,
        kind: str,
        url: str,
        form: dict[str, str],
        *,
        headers: dict[str, str] | None = None,
        **logged: Any,
    ) -> dict[str, Any]:
        """POST `form` to an application (x-www-form-urlencoded) and log it, with `logged`
        after the form; a timeout or a connection failure is logged as the error."""
        assert self.http is not None, "the emulator's HTTP client is not started"
        started = time.monotonic()
        status: int | None = None
        body: str | None = None
        content_type: str | None = None
        error: str | None = None
        try:
            answer = await self.http.post(url, data=form, headers=headers)
            status, body = answer.status_code, answer.text
            content_type = answer.headers.get("content-type")
        except httpx.TimeoutException:
            error = "timeout"
        except httpx.HTTPError as problem:
            error = f"{type(problem).__name__}: {problem}"
        return self.record(
            direction="out",
            kind=kind,
            url=url,
            form=form,
            **logged,
            status=status,
            content_type=content_type,
            response=body,
            error=error,
            seconds=round(time.monotonic() - started, 4),
        )

    def background(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
