"""uvicorn's HTTP/1.1 protocol with read deadlines, so that a client sending its request
slowly (or not at all) cannot hold a connection open for ever.

uvicorn only times out idle keep-alive connections. Here a request's line and headers must
arrive within the header timeout of the connection opening or of the previous response,
and its body within the body timeout of the headers. A late request line or headers get
408 and the connection closes; a late body closes the connection (the app sees the client
disconnect).
"""

from __future__ import annotations

import asyncio

import h11
from kiunga.platform.settings import get_settings
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class DeadlineH11Protocol(H11Protocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.header_timeout = settings.header_timeout_seconds
        self.body_timeout = settings.body_timeout_seconds
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_for: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Arm the deadline of the phase the client is in; keep it while the phase lasts."""
        state = self.conn.their_state
        if state is h11.IDLE and self.conn.our_state is h11.IDLE:
            self._arm(h11.IDLE, self.header_timeout, self._headers_too_slow)
        elif state is h11.SEND_BODY:
            self._arm(h11.SEND_BODY, self.body_timeout, self._body_too_slow)
        else:
            self._cancel()

    def _arm(self, phase: object, seconds: float, callback) -> None:
        if self._deadline is not None and self._deadline_for is phase:
            return
        self._cancel()
        self._deadline = self.loop.call_later(seconds, callback)
        self._deadline_for = phase

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._deadline_for = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.write(REQUEST_TIMEOUT)
            self.transport.close()

    def _body_too_slow(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
            self.transport.close()
