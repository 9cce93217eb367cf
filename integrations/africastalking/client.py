"""SMS sent through Africa's Talking's official SDK (`africastalking`), for the outbound queue.

The SDK is synchronous (requests) and has no asyncio face: each send runs in a bounded thread
pool of this client's own, so that many sends are in flight at once (the outbound queue sends
hundreds a second) without starving the event loop's default executor.

Two things the SDK does not offer, done on top of it without touching what it sends:

- Another API root. `SMSService._init_service` fixes AT's production (or, for the username
  "sandbox", the sandbox) host; there is no parameter. The service keeps it in `_baseUrl`
  (bulk sends) and `_contentUrl` (premium sends), read each time a URL is made, so setting
  both after construction points this one service object at the emulator, for this request
  only. The paths (`/version1/messaging`) stay the SDK's own.
- The HTTP status of a refusal. The SDK raises `AfricasTalkingException(response.text)` for
  any non-2xx answer, which cannot tell a wrong API key (401: do not retry) from AT being
  down (5xx: retry). `_SmsService` overrides only the SDK's transport (`_make_request`): the
  same URL, form fields, headers and timeout, sent on a per-thread pooled requests session,
  with the status kept. The request itself (fields, phone checks, headers with the apiKey)
  is still built by the SDK's `send` / `send_premium`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import requests
from africastalking.Service import DEFAULT_TIMEOUT_S
from africastalking.SMS import SMSService
from kiunga.integrations.africastalking.interfaces import (
    AtCredentials,
    SmsRefused,
    SmsSent,
    SmsUnavailable,
)

# The outbound queue hands over two groups of 32 at once, each message on a thread of its own.
DEFAULT_WORKERS = 64


class _HttpAnswer(Exception):
    """A non-2xx answer, with its status (the SDK's own exception drops it)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text[:200]}")
        self.status = status
        self.text = text


class _SmsService(SMSService):
    """The SDK's SMS service with its transport swapped (see the module docstring)."""

    def __init__(self, username: str, api_key: str, sessions: threading.local) -> None:
        self._sessions = sessions
        super().__init__(username, api_key)

    def point_at(self, base_url: str) -> None:
        root = base_url.rstrip("/") + "/version1"
        self._baseUrl = root
        self._contentUrl = root

    def _make_request(self, url, method, headers, data, params, callback=None, timeout=None):
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
            # The environment is read once per API root (_proxies_for), not at every request:
            # requests would otherwise look for a .netrc and the proxy variables each time,
            # a third of a send's time in the outbound queue.
            session.trust_env = False
        response = session.request(
            method.upper(),
            url,
            headers=headers,
            data=data,
            params=params,
            proxies=_proxies_for(_root(url)),
            timeout=timeout or DEFAULT_TIMEOUT_S,
            allow_redirects=False,
        )
        if not 200 <= response.status_code < 300:
            raise _HttpAnswer(response.status_code, response.text)
        try:
            return response.json()
        except ValueError:
            raise _HttpAnswer(response.status_code, response.text) from None


def _root(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@functools.lru_cache(maxsize=64)
def _proxies_for(root: str) -> dict[str, str]:
    """The proxies the environment sets for this API root (HTTPS_PROXY, NO_PROXY, …)."""
    return requests.utils.get_environ_proxies(root)


def parse_cost(cost: str | None) -> tuple[str, int] | None:
    """AT's cost of one message ("KES 0.8000") as (currency, millionths of a unit); None for
    nothing charged ("0", "KES 0", empty). A value that is not a cost raises ValueError."""
    if cost is None:
        return None
    text = cost.strip()
    if text in ("", "0", "None"):
        return None
    currency, _, amount = text.partition(" ")
    if len(currency) != 3 or not currency.isalpha() or not amount:
        raise ValueError(f"not an Africa's Talking cost: {cost!r}")
    try:
        value = Decimal(amount.strip())
    except InvalidOperation:
        raise ValueError(f"not an Africa's Talking cost: {cost!r}") from None
    if not value.is_finite() or value < 0 or value > 1_000_000:
        raise ValueError(f"not an Africa's Talking cost: {cost!r}")
    micros = value * 1_000_000
    if micros != micros.to_integral_value():
        raise ValueError(f"finer than a millionth: {cost!r}")
    if micros == 0:
        return None
    return currency.upper(), int(micros)


def _recipient(answer: Any, phone: str) -> SmsSent:
    data = answer.get("SMSMessageData") if isinstance(answer, dict) else None
    if not isinstance(data, dict):
        # AT took the request (2xx) but its answer says nothing: whether it was sent is
        # unknown, and the queue settles that (delivery report, or a resend).
        raise SmsUnavailable(f"Africa's Talking answered without SMSMessageData: {answer!r:.200}")
    recipients = data.get("Recipients") or []
    if not recipients:
        # The whole request refused: "InvalidSenderId", "UserInBlacklist", …
        raise SmsRefused(str(data.get("Message") or "no recipient accepted"))
    for recipient in recipients:
        if isinstance(recipient, dict) and recipient.get("number") == phone:
            break
    else:
        recipient = recipients[0] if isinstance(recipients[0], dict) else {}
    try:
        status_code = int(recipient.get("statusCode"))
    except (TypeError, ValueError):
        raise SmsUnavailable(
            f"Africa's Talking answered no statusCode: {recipient!r:.200}"
        ) from None
    message_id = recipient.get("messageId")
    cost = recipient.get("cost")
    return SmsSent(
        phone=str(recipient.get("number") or phone),
        status_code=status_code,
        status=str(recipient.get("status") or ""),
        message_id=str(message_id) if message_id not in (None, "", "None") else None,
        cost=str(cost) if cost not in (None, "") else None,
    )


class AfricasTalkingSms:
    """`SmsSender` through the `africastalking` SDK.

    sms = AfricasTalkingSms()            # one per process; close() when done
    sent = await sms.send(AtCredentials("myapp", key, base_url=None), to="+2547…",
                          message="…", sender_id="MYISP")
    """

    def __init__(
        self,
        *,
        max_workers: int = DEFAULT_WORKERS,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT_S,
    ) -> None:
        if not 1 <= max_workers <= 512:
            raise ValueError("max_workers must be between 1 and 512")
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="africastalking")
        self._sessions = threading.local()

    async def send(
        self,
        credentials: AtCredentials,
        *,
        to: str,
        message: str,
        sender_id: str | None = None,
        shortcode: str | None = None,
        link_id: str | None = None,
    ) -> SmsSent:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool,
            lambda: self._send_now(credentials, to, message, sender_id, shortcode, link_id),
        )

    def _send_now(
        self,
        credentials: AtCredentials,
        to: str,
        message: str,
        sender_id: str | None,
        shortcode: str | None,
        link_id: str | None,
    ) -> SmsSent:
        service = _SmsService(credentials.username, credentials.api_key, self._sessions)
        if credentials.base_url:
            service.point_at(credentials.base_url)
        try:
            if shortcode is not None:
                answer = service.send_premium(
                    message, shortcode, [to], link_id=link_id, timeout=self.timeout
                )
            else:
                answer = service.send(message, [to], sender_id=sender_id, timeout=self.timeout)
        except ValueError as error:  # the SDK's own check of the phone number
            raise SmsRefused(str(error)) from None
        except _HttpAnswer as answer_error:
            if answer_error.status >= 500 or answer_error.status == 429:
                raise SmsUnavailable(str(answer_error)) from None
            raise SmsRefused(str(answer_error)) from None
        except requests.RequestException as error:
            raise SmsUnavailable(f"Africa's Talking unreachable: {type(error).__name__}") from None
        if isinstance(answer, str):
            try:
                answer = json.loads(answer)
            except ValueError:
                raise SmsUnavailable(f"unreadable answer: {answer[:200]!r}") from None
        return _recipient(answer, to)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
