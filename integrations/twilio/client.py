"""WhatsApp messages sent through the official `twilio` SDK, for the outbound queue.

The SDK's REST client is synchronous (requests): each send runs in a bounded thread pool of
this client's own, so that many are in flight at once.

Another API root (the emulator) is the SDK's own mechanism: every API domain of the client
(`client.api`, a `twilio.base.domain.Domain`) builds its URLs from its public `base_url`
attribute, so setting `client.api.base_url` points the Messages API there; the paths
(`/2010-04-01/Accounts/{sid}/Messages.json`), form fields and basic auth stay the SDK's.

One `twilio.rest.Client` is kept per account (and API root), each with a
`TwilioHttpClient` whose pooled session holds as many connections as the thread pool has
threads (the SDK's default pool is smaller, and mounts it for https only).
"""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from kiunga.integrations.twilio.interfaces import (
    TwilioCredentials,
    WhatsAppRefused,
    WhatsAppSent,
    WhatsAppUnavailable,
)
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

DEFAULT_WORKERS = 32
DEFAULT_TIMEOUT = 15.0
MAX_CLIENTS = 256


def whatsapp_address(phone: str) -> str:
    """`+254712345678` → `whatsapp:+254712345678` (an address already prefixed stays)."""
    return phone if phone.startswith("whatsapp:") else f"whatsapp:{phone}"


class TwilioWhatsApp:
    """`WhatsAppSender` through the `twilio` SDK.

    whatsapp = TwilioWhatsApp()         # one per process; close() when done
    sent = await whatsapp.send(TwilioCredentials(sid, token, base_url=None),
                               from_="+14155238886", to="+2547…", body="…")
    """

    def __init__(
        self, *, max_workers: int = DEFAULT_WORKERS, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        if not 1 <= max_workers <= 512:
            raise ValueError("max_workers must be between 1 and 512")
        self.max_workers = max_workers
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="twilio")
        self._clients: dict[tuple[str, str, str | None], Client] = {}
        self._lock = threading.Lock()

    def _client(self, credentials: TwilioCredentials) -> Client:
        key = (credentials.account_sid, credentials.auth_token, credentials.base_url)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                if len(self._clients) >= MAX_CLIENTS:
                    self._clients.pop(next(iter(self._clients)))
                http = TwilioHttpClient(timeout=self.timeout)
                adapter = HTTPAdapter(
                    pool_connections=4, pool_maxsize=self.max_workers, max_retries=0
                )
                http.session.mount("https://", adapter)
                http.session.mount("http://", adapter)
                # The SDK reads TWILIO_* from the environment when given no value; give it
                # an empty one so that nothing but these credentials is used.
                client = Client(
                    credentials.account_sid,
                    credentials.auth_token,
                    http_client=http,
                    environment={},
                )
                if credentials.base_url:
                    client.api.base_url = credentials.base_url.rstrip("/")
                self._clients[key] = client
            return client

    async def send(
        self,
        credentials: TwilioCredentials,
        *,
        from_: str,
        to: str,
        body: str | None = None,
        content_sid: str | None = None,
        content_variables: dict[str, str] | None = None,
        status_callback: str | None = None,
    ) -> WhatsAppSent:
        if (body is None) == (content_sid is None):
            raise ValueError("give either body or content_sid")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool,
            lambda: self._send_now(
                credentials, from_, to, body, content_sid, content_variables, status_callback
            ),
        )

    def _send_now(
        self,
        credentials: TwilioCredentials,
        from_: str,
        to: str,
        body: str | None,
        content_sid: str | None,
        content_variables: dict[str, str] | None,
        status_callback: str | None,
    ) -> WhatsAppSent:
        fields: dict[str, str] = {"from_": whatsapp_address(from_), "to": whatsapp_address(to)}
        if body is not None:
            fields["body"] = body
        if content_sid is not None:
            fields["content_sid"] = content_sid
            if content_variables:
                fields["content_variables"] = json.dumps(content_variables, ensure_ascii=False)
        if status_callback is not None:
            fields["status_callback"] = status_callback
        try:
            message = self._client(credentials).messages.create(**fields)
        except (TwilioRestException, TwilioServiceException) as error:
            status = int(error.status)
            text = getattr(error, "msg", None) or getattr(error, "detail", None) or str(error)
            if status == 429 or status >= 500:
                raise WhatsAppUnavailable(f"Twilio answered {status}: {text}") from None
            code = int(error.code) if str(error.code or "").isdigit() else None
            raise WhatsAppRefused(code, f"{status} {text}") from None
        except requests.RequestException as error:
            raise WhatsAppUnavailable(f"Twilio unreachable: {type(error).__name__}") from None
        except TwilioException as error:
            # The SDK could not read the answer: whether Twilio took the message is unknown.
            raise WhatsAppUnavailable(f"Twilio's answer unreadable: {error}") from None
        return WhatsAppSent(
            sid=str(message.sid),
            status=str(message.status),
            price=message.price,
            price_unit=message.price_unit,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for client in self._clients.values():
                session = getattr(client.http_client, "session", None)
                if session is not None:
                    session.close()
            self._clients.clear()
