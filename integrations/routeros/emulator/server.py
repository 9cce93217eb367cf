"""The RouterOS API over TCP (and TLS, as api-ssl): one emulated router per listening port.

`RouterEmulator` runs the server on its own event loop in a background thread, so tests and
the synchronous world can use it; `run_emulator` serves in the foreground for the CLI.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import ssl
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiunga.integrations.routeros.emulator.router import EmulatedRouter, Session
from kiunga.integrations.routeros.wire import WireError, encode_sentence, read_sentence

if TYPE_CHECKING:
    from kiunga.integrations.routeros.client import RouterConnection

API_PORT = 8728
API_SSL_PORT = 8729


class RouterAPIServer:
    """Serves one router's API on an event loop; can drop off the network and come back."""

    def __init__(
        self,
        router: EmulatedRouter,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.router = router
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        # Cleared, commands are read but not answered until it is set again: a router that
        # stalls, whose late answers still arrive on connections that are still open.
        self._answering: asyncio.Event | None = None

    def _answering_event(self) -> asyncio.Event:
        if self._answering is None:
            self._answering = asyncio.Event()
            self._answering.set()
        return self._answering

    async def hold_answers(self) -> None:
        self._answering_event().clear()

    async def release_answers(self) -> None:
        self._answering_event().set()

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def listen(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve,
            self.host,
            self.port,
            ssl=self.ssl_context,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_listening(self) -> None:
        """Refuse new connections and cut the open ones, as a router that went away."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        session = Session(self.router)
        try:
            while True:
                words = await read_sentence(reader)
                if not words:
                    continue
                await self._answering_event().wait()
                if writer.transport.is_closing():
                    break
                replies, close = session.answer(words)
                writer.write(b"".join(encode_sentence(reply) for reply in replies))
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, WireError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


def self_signed_certificate(host: str) -> tuple[bytes, bytes]:
    """A certificate and key (PEM) for `host`, as a router's api-ssl would present."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def certificate_fingerprint(certificate_pem: bytes) -> str:
    """SHA-256 of the certificate (DER) in lower-case hex, as RouterOS prints it."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(certificate_pem.decode())).hexdigest()


def server_ssl_context(certificate_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_bytes(certificate_pem)
        key_file.write_bytes(key_pem)
        context.load_cert_chain(cert_file, key_file)
    return context


class RouterEmulator:
    """One emulated router on its own port, served from a background thread.

    with RouterEmulator(password="secret") as router:
        RouterOSClient(router.connection())
        router.state.login_ppp("1234")       # Python-side hooks live on `state`
        router.offline(); router.online()
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        username: str = "admin",
        password: str = "",
        users: Mapping[str, str] | None = None,
        tls: bool = False,
        **router_options: Any,
    ) -> None:
        self.host = host
        self.username = username
        self.password = password
        all_users = {username: password, **(users or {})}
        self.state = EmulatedRouter(users=all_users, **router_options)
        self.certificate_pem: bytes | None = None
        context = None
        if tls:
            self.certificate_pem, key_pem = self_signed_certificate(host)
            context = server_ssl_context(self.certificate_pem, key_pem)
        self.tls = tls
        self.server = RouterAPIServer(self.state, host, port, context)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def certificate_fingerprint(self) -> str | None:
        if self.certificate_pem is None:
            return None
        return certificate_fingerprint(self.certificate_pem)

    def replace_certificate(self) -> None:
        """api-ssl now presents a new self-signed certificate (as after a reset, or as a
        machine in the path would): open connections are cut, new ones get the new one."""
        if not self.tls:
            raise RuntimeError("this emulated router does not serve api-ssl")
        self.certificate_pem, key_pem = self_signed_certificate(self.host)
        listening = self.is_online
        if listening:
            self._call(self.server.stop_listening())
        self.server.ssl_context = server_ssl_context(self.certificate_pem, key_pem)
        if listening:
            self._call(self.server.listen())

    def _call(self, coroutine: Any, timeout: float = 10.0) -> Any:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("the RouterOS emulator is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def start(self) -> RouterEmulator:
        if self._loop is not None:
            return self
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="routeros-emulator", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._call(self.server.listen())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._call(self.server.release_answers())
            self._call(self.server.stop_listening())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
            self._loop = self._thread = None

    def offline(self) -> None:
        """The router drops off the network: open connections are cut, new ones refused."""
        self._call(self.server.stop_listening())

    def online(self) -> None:
        """Back on the network, on the same port and with the same configuration."""
        self._call(self.server.listen())
        self._call(self.server.release_answers())

    def unresponsive(self) -> None:
        """Connections are accepted but nothing is answered until `online()`: clients time
        out, and answers held meanwhile arrive late on the connections still open."""
        self._call(self.server.hold_answers())

    @property
    def is_online(self) -> bool:
        return self.server.listening

    def connection(self, **overrides: Any) -> RouterConnection:
        """Settings for a client of this router (see `client.RouterConnection`)."""
        from kiunga.integrations.routeros.client import RouterConnection

        settings: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "tls": self.tls,
            "ca_pem": self.certificate_pem.decode() if self.certificate_pem else None,
            "timeout": 5.0,
        }
        settings.update(overrides)
        return RouterConnection(**settings)

    def __enter__(self) -> RouterEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_emulator(
    host: str = "127.0.0.1",
    port: int = API_PORT,
    *,
    username: str = "admin",
    password: str = "",
    tls: bool = False,
    on_ready: Callable[[RouterEmulator], None] | None = None,
    **router_options: Any,
) -> None:
    """Serve one emulated router until interrupted; `on_ready` is called once it listens."""
    emulator = RouterEmulator(
        host, port, username=username, password=password, tls=tls, **router_options
    )

    async def serve() -> None:
        await emulator.server.listen()
        if on_ready is not None:
            on_ready(emulator)
        try:
            await asyncio.Event().wait()
        finally:
            await emulator.server.stop_listening()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
