"""A fake MikroTik hotspot for the browser tests: it serves Kiunga's generated login.html
with the `$(…)` variables filled in as a router fills them (a fresh CHAP id and challenge,
octal-escaped, for each page), and records what the portal then posts to its
link-login-only, checking the CHAP response against the challenge it issued."""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit


def octal(data: bytes) -> str:
    return "".join(f"\\{byte:03o}" for byte in data)


@dataclass
class Login:
    username: str
    password: str
    dst: str
    popup: str
    chap_ok: bool | None  # None: a PAP login (no challenge was issued)


@dataclass
class FakeRouter:
    login_html: str  # Kiunga's generated files, with $(…) variables
    status_html: str = ""
    chap: bool = True
    logins: list[Login] = field(default_factory=list)
    logouts: list[dict] = field(default_factory=list)
    _challenges: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)

    def start(self) -> FakeRouter:
        router = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, body: str, status: int = 200) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/hotspot":
                    self._reply(router.page(query.get("mac", ""), query.get("error", "")))
                elif url.path == "/status":
                    self._reply(router.status(query.get("mac", "")))
                else:
                    self._reply("not found", 404)

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if self.path.startswith("/login"):
                    login = router.record(form)
                    self._reply(f"<h1 id='logged-in'>Logged in as {escape(login.username)}</h1>")
                elif self.path.startswith("/logout"):
                    router.logouts.append(form)
                    self._reply("<h1 id='logged-out'>Logged out</h1>")
                else:
                    self._reply("not found", 404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def hotspot_url(self, mac: str, error: str = "") -> str:
        """What the router would show a device that is not logged in yet."""
        query = {"mac": mac, **({"error": error} if error else {})}
        return f"{self.url}/hotspot?{urlencode(query)}"

    def page(self, mac: str, error: str) -> str:
        chap_id, challenge = (secrets.token_bytes(1), secrets.token_bytes(16))
        self._challenges[mac] = (chap_id, challenge)
        values = {
            "mac": mac,
            "ip": "10.5.50." + str(int(mac[-2:], 16) if mac else 2),
            "username": "",
            "link-login": f"{self.url}/login?dst=http%3A%2F%2Fexample.com%2F",
            "link-login-only": f"{self.url}/login",
            "link-orig": "http://example.com/",
            "link-logout": f"{self.url}/logout",
            "chap-id": octal(chap_id) if self.chap else "",
            "chap-challenge": octal(challenge) if self.chap else "",
            "error": error,
        }
        html = self.login_html
        for name, value in values.items():
            html = html.replace(f"$({name})", escape(value))
        return html

    def status(self, mac: str) -> str:
        """status.html for a device that is logged in (as the last login recorded)."""
        values = {
            "username": self.logins[-1].username if self.logins else "",
            "mac": mac,
            "ip": "10.5.50.9",
            "link-logout": f"{self.url}/logout",
            "link-login-only": f"{self.url}/login",
        }
        html = self.status_html
        for name, value in values.items():
            html = html.replace(f"$({name})", escape(value))
        return html

    def status_url(self, mac: str) -> str:
        return f"{self.url}/status?{urlencode({'mac': mac})}"

    def record(self, form: dict[str, str]) -> Login:
        username, password = form.get("username", ""), form.get("password", "")
        chap_ok = None
        if self.chap:
            # The router knows the voucher's password (the code); it checks the response
            # against every challenge it issued (one per device here).
            chap_ok = any(
                hashlib.md5(chap_id + username.encode() + challenge).hexdigest() == password
                for chap_id, challenge in self._challenges.values()
            )
        login = Login(username, password, form.get("dst", ""), form.get("popup", ""), chap_ok)
        self.logins.append(login)
        return login
