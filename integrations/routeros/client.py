"""An async client for a MikroTik router's API, on librouteros's asyncio transport.

One `RouterOSClient` holds one API connection (opened on first use, reopened after it
breaks) and sends one command at a time over it; open several clients for parallel work.
Every value read back is the string the router sent: librouteros would turn a username
"1234" into the int 1234 and "yes" into True, so this client reads sentences itself
(`_TextApi`) and nothing else ever sees a converted value.

Failures are three kinds a caller can act on: `RouterUnreachable` (refused, timed out,
dropped: retry later), `RouterAuthFailed` (fix the credentials), `RouterTrap` (the router
refused the command; its message says why). Commands are never retried here: an `add` sent
twice could create two items.

Everything a tenant creates carries a mark (see `marks`) and the `ensure_*`/`remove_*`
helpers refuse to change or remove an item that does not carry this tenant's mark.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import librouteros
from kiunga.integrations.routeros.errors import (
    RouterAuthFailed,
    RouterCertificateRefused,
    RouterError,
    RouterItemNotOurs,
    RouterTrap,
    RouterUnreachable,
)
from kiunga.integrations.routeros.gateway import (
    ADDRESS_LIST,
    FIREWALL_FILTER,
    HOTSPOT_ACTIVE,
    HOTSPOT_USER,
    HOTSPOT_USER_PROFILE,
    NAMED_MENUS,
    PPP_ACTIVE,
    PPP_PROFILE,
    PPP_SECRET,
    SIMPLE_QUEUE,
    SUSPENDED_LIST,
    Ensured,
    RouterOSGateway,
    RouterStatus,
    Row,
)
from kiunga.integrations.routeros.marks import Mark, mark, parse_mark, parse_reserved_name
from kiunga.integrations.routeros.marks import reserved_name as _reserved_name
from kiunga.integrations.routeros.menus import MenuCalls
from kiunga.integrations.routeros.values import (
    api_name,
    attribute_words,
    named,
    normalise_path,
    same_value,
    wire_value,
)
from librouteros.api import AsyncApi
from librouteros.exceptions import LibRouterosError, MultiTrapError, TrapError
from librouteros.login import async_plain

__all__ = [
    "ADDRESS_LIST",
    "API_PORT",
    "API_SSL_PORT",
    "FIREWALL_FILTER",
    "HOTSPOT_ACTIVE",
    "HOTSPOT_USER",
    "HOTSPOT_USER_PROFILE",
    "NAMED_MENUS",
    "PPP_ACTIVE",
    "PPP_PROFILE",
    "PPP_SECRET",
    "SIMPLE_QUEUE",
    "SUSPENDED_LIST",
    "Ensured",
    "RouterAuthFailed",
    "RouterCertificateRefused",
    "RouterConnection",
    "RouterError",
    "RouterItemNotOurs",
    "RouterOSClient",
    "RouterOSGateway",
    "RouterStatus",
    "RouterTrap",
    "RouterUnreachable",
    "Row",
]

API_PORT = 8728
API_SSL_PORT = 8729
# What librouteros raises reading bytes that are not API sentences (not UTF-8, an empty
# sentence): whatever answered is not a RouterOS API, which is the same as no answer.
_GARBLED = (ValueError, LookupError)


# ---------------------------------------------------------------------------------------
# Settings and results


@dataclass(frozen=True)
class RouterConnection:
    host: str
    username: str
    password: str = field(default="", repr=False)
    port: int | None = None  # 8728, or 8729 with tls
    tls: bool = False
    verify_tls: bool = True
    ca_pem: str | None = field(default=None, repr=False)  # the router's certificate or CA
    # SHA-256 (hex) of the certificate the router must present over TLS; checked on the
    # connection itself before the login is sent, whatever `verify_tls` says.
    tls_fingerprint: str | None = None
    timeout: float = 10.0

    @property
    def api_port(self) -> int:
        if self.port is not None:
            return self.port
        return API_SSL_PORT if self.tls else API_PORT

    @property
    def address(self) -> str:
        return f"{self.host}:{self.api_port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        context = ssl.create_default_context(cadata=self.ca_pem)
        if not self.verify_tls:
            # Routers commonly serve api-ssl with a certificate of their own making.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _row(words: Iterable[str]) -> Row:
    """A reply's attribute words as strings, exactly as the router sent them."""
    row: Row = {}
    for word in words:
        key, _, value = (word[1:] if word.startswith("=") else word).partition("=")
        row[key] = value
    return row


class _TextApi(AsyncApi):
    """librouteros's AsyncApi reading every value as the string on the wire."""

    async def readSentence(self) -> tuple[str, Row]:  # type: ignore[override]  # noqa: N802
        reply_word, words = await self.protocol.readSentence()
        return reply_word, _row(words)

    async def readResponse(self) -> list[Row]:  # type: ignore[override]  # noqa: N802
        traps: list[TrapError] = []
        rows: list[Row] = []
        reply_word = None
        # !empty (RouterOS 7.18+, before !done when a print found nothing) adds nothing.
        while reply_word != "!done":
            reply_word, row = await self.readSentence()
            row.pop(".tag", None)
            if reply_word == "!trap":
                category = row.get("category")
                trap = TrapError(row.get("message", ""), _int_or_none(category))
                traps.append(trap)
            elif reply_word in ("!re", "!done") and row:
                rows.append(row)
        if len(traps) > 1:
            raise MultiTrapError(*traps)
        if traps:
            raise traps[0]
        return rows


class RouterOSClient(MenuCalls):
    """One router's API. `tenant` (a slug) is needed for the helpers that mark and
    recognise Kiunga's items.

    async with RouterOSClient(RouterConnection("10.0.0.1", "kiunga", "…"), tenant="acme") as r:
        await r.ensure_ppp_secret("1234", password="…", profile="5M", key="service:42")
    """

    def __init__(self, connection: RouterConnection, *, tenant: str | None = None) -> None:
        self.connection = connection
        self.tenant = tenant
        self._api: _TextApi | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        # What the router presented over TLS when last connected (for pinning it).
        self.certificate_fingerprint: str | None = None

    def __repr__(self) -> str:
        return f"RouterOSClient({self.connection.address}, tenant={self.tenant})"

    async def __aenter__(self) -> RouterOSClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- connection ----------------------------------------------------------------

    def _lock_for_this_loop(self) -> asyncio.Lock:
        # A connection's streams and a lock belong to the event loop that made them.
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._lock is None:
            _abort(self._api)
            self._api, self._loop, self._lock = None, loop, asyncio.Lock()
        return self._lock

    async def _connect(self) -> _TextApi:
        settings = self.connection
        try:
            api = await librouteros.async_connect(
                settings.host,
                settings.username,
                settings.password,
                port=settings.api_port,
                timeout=settings.timeout,
                subclass=_TextApi,
                encoding="utf-8",
                ssl_wrapper=settings.ssl_context(),
                login_method=self._login,
            )
        except TrapError as trap:
            raise RouterAuthFailed(settings.address, trap.message) from None
        except (OSError, TimeoutError, LibRouterosError, *_GARBLED) as error:
            raise RouterUnreachable(settings.address, _describe(error)) from None
        assert isinstance(api, _TextApi)
        return api

    async def _login(self, api: AsyncApi, username: str, password: str) -> None:
        """Logs in, but only once the certificate is known to be the pinned one."""
        if self.connection.tls:
            presented = _peer_fingerprint(api)
            self.certificate_fingerprint = presented
            pinned = self.connection.tls_fingerprint
            if pinned is not None and presented != pinned.lower():
                raise RouterCertificateRefused(self.connection.address, pinned, presented)
        await async_plain(api, username, password)

    def _drop(self) -> None:
        api, self._api = self._api, None
        _abort(api)

    async def close(self) -> None:
        """Closes the connection; the router ends the session with it."""
        if self._api is not None and self._loop is asyncio.get_running_loop():
            api, self._api = self._api, None
            try:
                await api.close()
            except (OSError, TimeoutError, LibRouterosError):
                pass
        else:
            self._drop()

    async def run(self, command: str, *words: str) -> list[Row]:
        """Sends one command with its words as written (=k=v, ?query, =.proplist=…)."""
        lock = self._lock_for_this_loop()
        async with lock:
            if self._api is None:
                self._api = await self._connect()
            api = self._api
            try:
                return [row async for row in api.rawCmd(command, *words)]
            except TrapError as trap:
                raise self._trap(command, trap) from None
            except MultiTrapError as traps:
                raise self._trap(command, traps.traps[0]) from None
            except (OSError, TimeoutError, LibRouterosError, *_GARBLED) as error:
                # Mid-reply the connection's state is unknown: start afresh next time.
                self._drop()
                raise RouterUnreachable(self.connection.address, _describe(error)) from None
            except asyncio.CancelledError:
                # The reply may still arrive and would be read as the next command's.
                self._drop()
                raise

    def _trap(self, command: str, trap: TrapError) -> RouterTrap:
        return RouterTrap(self.connection.address, trap.message, trap.category, command)

    # -- generic -------------------------------------------------------------------

    async def list(
        self,
        path: str,
        *,
        proplist: Sequence[str] | None = None,
        where: Sequence[str] = (),
        **equal: object,
    ) -> list[Row]:
        """print: items whose properties equal `equal` (keyword names, '_' for '-');
        `where` adds raw query words (e.g. "?#|")."""
        words = [f"?={api_name(key)}={wire_value(value)}" for key, value in equal.items()]
        words.extend(where)
        if proplist is not None:
            words.insert(0, f"=.proplist={','.join(proplist)}")
        return await self.run(normalise_path(path) + "/print", *words)

    async def add(self, path: str, **attributes: object) -> str:
        """add; returns the new item's id (*1A)."""
        rows = await self.run(normalise_path(path) + "/add", *attribute_words(attributes))
        return rows[0].get("ret", "") if rows else ""

    async def set(self, path: str, item_id: str, **attributes: object) -> None:
        await self.run(
            normalise_path(path) + "/set", f"=.id={item_id}", *attribute_words(attributes)
        )

    async def add_first(self, path: str, **attributes: object) -> str:
        """add, placed before every item already there (a firewall rule that must be
        reached before the router's own rules let the traffic through)."""
        first = await self.list(path, proplist=[".id"])
        if first:
            attributes = {**attributes, "place_before": first[0][".id"]}
        return await self.add(path, **attributes)

    async def remove(self, path: str, *item_ids: str) -> None:
        if not item_ids:
            return
        await self.run(normalise_path(path) + "/remove", f"=.id={','.join(item_ids)}")

    # -- status --------------------------------------------------------------------

    async def identity(self) -> str:
        rows = await self.run("/system/identity/print")
        return rows[0].get("name", "") if rows else ""

    async def resource(self) -> Row:
        rows = await self.run("/system/resource/print")
        return rows[0] if rows else {}

    async def status(self) -> RouterStatus:
        identity = await self.identity()
        resource = await self.resource()
        return RouterStatus(
            identity=identity,
            version=resource.get("version", ""),
            uptime=resource.get("uptime", ""),
            cpu_load=_int_or_none(resource.get("cpu-load")),
            free_memory=_int_or_none(resource.get("free-memory")),
            total_memory=_int_or_none(resource.get("total-memory")),
            board_name=resource.get("board-name", ""),
        )

    async def test_connection(self) -> RouterStatus:
        """Logs in afresh and reads the router's status; raises what went wrong."""
        async with RouterOSClient(self.connection) as fresh:
            return await fresh.status()

    # -- Kiunga's own items --------------------------------------------------------

    def _tenant(self) -> str:
        if self.tenant is None:
            raise ValueError("this client has no tenant: it cannot mark or recognise items")
        return self.tenant

    def mark(self, key: str | int) -> str:
        return mark(self._tenant(), key)

    def reserved_name(self, key: str | int) -> str:
        """The name of this tenant's item `key` in a menu without comments."""
        return _reserved_name(self._tenant(), key)

    def mark_of(self, path: str, item: Mapping[str, str]) -> Mark | None:
        """This tenant's mark on an item (its comment, or its reserved name in a menu
        without comments); None for an item that is not this tenant's."""
        if normalise_path(path) in NAMED_MENUS:
            found = parse_reserved_name(item.get("name"))
        else:
            found = parse_mark(item.get("comment"))
        return found if found is not None and found.tenant == self._tenant() else None

    def is_ours(self, path: str, item: Mapping[str, str]) -> bool:
        return self.mark_of(path, item) is not None

    def marking(self, path: str, key: str | int) -> dict[str, str]:
        """The property that makes an item this tenant's `key`."""
        if normalise_path(path) in NAMED_MENUS:
            return {"name": self.reserved_name(key)}
        return {"comment": self.mark(key)}

    async def ours(self, path: str, **equal: object) -> list[Row]:
        """This tenant's items in a menu."""
        return [item for item in await self.list(path, **equal) if self.is_ours(path, item)]

    async def by_key(self, path: str, key: str | int) -> list[Row]:
        """The items this tenant made under `key` (one, unless a run was cut short)."""
        rows = await self.list(path, **self.marking(path, key))
        return [row for row in rows if self.is_ours(path, row)]

    async def find_by_key(self, path: str, key: str | int) -> Row | None:
        """The item this tenant made under `key`, whatever it is named now."""
        found = await self.by_key(path, key)
        return found[0] if found else None

    async def ensure(
        self, path: str, match: Mapping[str, object], key: str | int, **attributes: object
    ) -> Ensured:
        """The item `match` names exists, with `attributes`, marked as this tenant's `key`.

        Created when missing; changed only where it differs; RouterItemNotOurs when an item
        of that name exists without this tenant's mark.
        """
        marking = self.marking(path, key)
        if "name" in marking and named(match).get("name") != marking["name"]:
            raise ValueError(
                f"{normalise_path(path)} has no comment: name the item {marking['name']}"
            )
        wanted = {api_name(k): wire_value(v) for k, v in attributes.items()}
        wanted.update(marking)
        found = await self.list(path, **match)
        if not found:
            item_id = await self.add(path, **{**named(match), **wanted})
            return Ensured(item_id, created=True)
        item = found[0]
        if not self.is_ours(path, item):
            raise RouterItemNotOurs(self.connection.address, normalise_path(path), item)
        changes = {k: v for k, v in wanted.items() if not same_value(k, item.get(k, ""), v)}
        if changes:
            await self.set(path, item[".id"], **changes)
        return Ensured(item[".id"], changed=bool(changes))

    async def remove_ours(self, path: str, **equal: object) -> int:
        """Removes this tenant's items matching `equal`; others are left. Returns how many."""
        ids = [item[".id"] for item in await self.ours(path, **equal)]
        await self.remove(path, *ids)
        return len(ids)


def _abort(api: _TextApi | None) -> None:
    """Drops a connection at once, even one whose event loop has gone."""
    if api is None:
        return
    transport = api.protocol.transport.writer.transport
    try:
        transport.abort()
    except RuntimeError:
        # Its event loop is closed, so the transport can no longer close its own socket.
        wrapped = transport.get_extra_info("socket")
        raw = getattr(wrapped, "_sock", None)
        if raw is not None:
            raw.close()


def _peer_fingerprint(api: AsyncApi) -> str:
    """SHA-256 (hex) of the certificate the other end of this TLS connection presented."""
    tls = api.protocol.transport.writer.get_extra_info("ssl_object")
    certificate = tls.getpeercert(binary_form=True) if tls is not None else None
    if not certificate:
        return ""
    return hashlib.sha256(certificate).hexdigest()


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__
