"""An emulated MikroTik hotspot's web side, for demos and end-to-end tests: the pages a
phone sees before it is online, and the RADIUS the router speaks when it logs a user in.

It behaves as RouterOS does with an external login page and a RADIUS server:

- `GET /d/<MAC>/login` serves the operator's login.html (fetched from `login_html_url`, as an
  operator uploads it to the router's hotspot folder) with the router's `$(…)` variables
  filled in: the device's MAC and address, `link-login-only`, `link-orig`, a fresh CHAP id
  and challenge (octal-escaped) and the last `error`.
- `POST /d/<MAC>/login` is `link-login-only`: the username and the password (in clear, or the hex
  MD5 of chap-id + password + chap-challenge) become an Access-Request with User-Password
  or CHAP-Password/CHAP-Challenge, Calling-Station-Id = the device's MAC; an Access-Accept
  opens a session (Accounting-Request Start) and sends the browser on to `dst`; a reject
  sends it back to the login page with the Reply-Message as `$(error)`.
- `GET /d/<MAC>/status` serves the ISP's status.html (which hands the phone to the portal's
  status page), `…/session` the router's own account of the session (what RADIUS granted);
  `…/logout` (link-logout) ends it
  (Accounting-Request Stop).

A router knows a phone by its MAC at layer 2; a browser here has none, so the emulator gives
each new visitor of `/login` a locally administered MAC (or the one `?mac=` names) and keeps
it in the path of the device's own pages (`/d/<MAC>/login`, `…/status`, `…/logout`): the
portal posts back to link-login-only from another site, where no cookie would follow.
A cookie only brings a returning browser back to its MAC. `GET /emulator/sessions` lists
the open sessions as JSON for tests.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from html import escape
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from kiunga.integrations.radius.dictionary import load_dictionary
from pyrad import packet as radius_packet
from pyrad.client import Client, Timeout

DEVICE_COOKIE = "hotspot_device"
MAC_PATTERN = re.compile(r"([0-9A-F]{2}:){5}[0-9A-F]{2}")
DEVICE_PATH = re.compile(
    r"/d/(?P<mac>([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2})/(?P<page>login|status|session|logout)"
)
DEFAULT_ORIG = "http://example.com/"
NOT_LOGGED_IN = (
    '<!DOCTYPE html><title>Hotspot</title><p>Not logged in. <a href="login">Log in</a></p>'
)
NO_LOGIN_PAGE = (
    "<!DOCTYPE html><title>Hotspot</title><p>This hotspot has no login page yet: "
    "upload the ISP's login.html.</p>"
)


def octal(data: bytes) -> str:
    """How RouterOS writes bytes into $(chap-id) and $(chap-challenge)."""
    return "".join(f"\\{byte:03o}" for byte in data)


def random_mac() -> str:
    # Locally administered, unicast: 02:xx:…
    return ":".join(["02", *(f"{byte:02X}" for byte in secrets.token_bytes(5))])


@dataclass
class HotspotSession:
    username: str
    mac: str
    ip: str
    acct_session_id: str
    started_at: float
    rate_limit: str | None
    session_timeout: int | None


@dataclass
class HotspotEmulator:
    login_html_url: str
    radius_host: str
    auth_port: int
    acct_port: int
    secret: bytes = field(repr=False)
    nas_ip: str = "127.0.0.1"
    identity: str = "Kiunga hotspot emulator"
    # Where to connect for login_html_url's host when the name does not resolve here (as
    # curl --resolve); names under .localhost always go to 127.0.0.1 (RFC 6761).
    portal_address: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    sessions: dict[str, HotspotSession] = field(default_factory=dict)
    # mac → (chap id, challenge) issued with the last login page.
    _challenges: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)
    _addresses: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ running

    def start(self) -> HotspotEmulator:
        """Serve in a background thread; `port` is the bound port afterwards."""
        self._server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def serve_forever(self) -> None:
        self._server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        self.port = self._server.server_address[1]
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def device_url(self, mac: str) -> str:
        return f"{self.url}/d/{mac}"

    # ------------------------------------------------------------------ the device

    def address_of(self, mac: str) -> str:
        with self._lock:
            if mac not in self._addresses:
                self._addresses[mac] = f"10.5.50.{len(self._addresses) % 250 + 2}"
            return self._addresses[mac]

    # ------------------------------------------------------------------ pages

    def login_page(self, mac: str, *, error: str = "", orig: str = DEFAULT_ORIG) -> str:
        try:
            template = self._fetch("login.html")
        except OSError:
            return NO_LOGIN_PAGE
        chap_id, challenge = secrets.token_bytes(1), secrets.token_bytes(16)
        with self._lock:
            self._challenges[mac] = (chap_id, challenge)
        login_only = f"{self.device_url(mac)}/login"
        values = {
            "mac": mac,
            "ip": self.address_of(mac),
            "username": "",
            "link-login": f"{login_only}?{urlencode({'dst': orig})}",
            "link-login-only": login_only,
            "link-orig": orig,
            "link-logout": f"{self.device_url(mac)}/logout",
            "chap-id": octal(chap_id),
            "chap-challenge": octal(challenge),
            "error": error,
            "identity": self.identity,
        }
        return _fill(template, values)

    def status_page(self, mac: str) -> str:
        """What a logged-in phone sees at the router: the ISP's status.html (uploaded beside
        login.html) with the session's variables, or the router's own page without one."""
        session = self.sessions.get(mac)
        if session is None:
            return NOT_LOGGED_IN
        try:
            template = self._fetch("status.html")
        except OSError:
            return self.session_page(mac)
        values = {
            "username": session.username,
            "mac": mac,
            "ip": session.ip,
            "link-logout": f"{self.device_url(mac)}/logout",
            "link-login-only": f"{self.device_url(mac)}/login",
            "identity": self.identity,
        }
        return _fill(template, values)

    def _fetch(self, name: str) -> str:
        """One of the ISP's hotspot files, beside login_html_url, fetched as a router does
        with /tool fetch."""
        url = urlsplit(self.login_html_url.rsplit("/", 1)[0] + "/" + name)
        address = self.portal_address
        if address is None and (url.hostname or "").endswith("localhost"):
            address = "127.0.0.1"
        request = urllib.request.Request(url.geturl())
        if address is not None:
            port = f":{url.port}" if url.port else ""
            request = urllib.request.Request(
                url._replace(netloc=f"{address}{port}").geturl(), headers={"Host": url.netloc}
            )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.read().decode()

    def session_page(self, mac: str) -> str:
        """The router's own account of a session: what RADIUS granted."""
        session = self.sessions.get(mac)
        if session is None:
            return NOT_LOGGED_IN
        minutes = int((time.time() - session.started_at) // 60)
        return (
            '<!DOCTYPE html><meta name="viewport" content="width=device-width">'
            "<title>Hotspot session</title>"
            f"<h1>You are online</h1><p id=user>Logged in as {escape(session.username)}</p>"
            f"<p>Device {escape(session.mac)}, address {escape(session.ip)}, "
            f"online for {minutes} min.</p>"
            f"<p id=rate>Speed: {escape(session.rate_limit or 'unlimited')}</p>"
            f"<p id=timeout>Time granted: {session.session_timeout or 'no limit'} s</p>"
            '<form method=post action="logout"><button>Log out</button></form>'
        )

    # ------------------------------------------------------------------ RADIUS

    def _client(self) -> Client:
        client = Client(
            server=self.radius_host,
            authport=self.auth_port,
            acctport=self.acct_port,
            secret=self.secret,
            dict=load_dictionary(),
        )
        client.timeout, client.retries = 3, 2
        return client

    def authenticate(self, mac: str, username: str, password: str) -> tuple[bool, dict]:
        """Access-Request as RouterOS sends it; (accepted, reply attributes by name)."""
        client = self._client()
        request = client.CreateAuthPacket(code=radius_packet.AccessRequest)
        request["User-Name"] = username
        with self._lock:
            issued = self._challenges.pop(mac, None)
        if issued is not None and _is_hex_md5(password):
            chap_id, challenge = issued
            request["CHAP-Password"] = chap_id + bytes.fromhex(password)
            request["CHAP-Challenge"] = challenge
        else:
            request["User-Password"] = request.PwCrypt(password)
        request["Calling-Station-Id"] = mac
        request["Framed-IP-Address"] = self.address_of(mac)
        request["NAS-IP-Address"] = self.nas_ip
        request["NAS-Identifier"] = self.identity
        request["Service-Type"] = "Login-User"
        request["NAS-Port-Type"] = "Wireless-802.11"
        request.add_message_authenticator()
        try:
            reply = client.SendPacket(request)
        except Timeout:
            return False, {"Reply-Message": ["RADIUS server is not responding"]}
        attributes = {str(key): list(reply[key]) for key in reply.keys()}
        return reply.code == radius_packet.AccessAccept, attributes

    def _account(self, session: HotspotSession, status: str, **extra) -> None:
        client = self._client()
        request = client.CreateAcctPacket()
        request["Acct-Status-Type"] = status
        request["Acct-Session-Id"] = session.acct_session_id
        request["User-Name"] = session.username
        request["Calling-Station-Id"] = session.mac
        request["Framed-IP-Address"] = session.ip
        request["NAS-IP-Address"] = self.nas_ip
        request["NAS-Identifier"] = self.identity
        for name, value in extra.items():
            request[name.replace("_", "-")] = value
        try:
            client.SendPacket(request)
        except Timeout:
            pass  # RouterOS goes on; the server learns of the session at the next interim

    def log_in(self, mac: str, username: str, password: str) -> str | None:
        """None when logged in, else the router's error text for $(error)."""
        accepted, reply = self.authenticate(mac, username, password)
        if not accepted:
            message = reply.get("Reply-Message") or ["invalid username or password"]
            return str(message[0])
        session = HotspotSession(
            username=username,
            mac=mac,
            ip=self.address_of(mac),
            acct_session_id=secrets.token_hex(4).upper(),
            started_at=time.time(),
            rate_limit=_first(reply.get("Mikrotik-Rate-Limit")),
            session_timeout=_first(reply.get("Session-Timeout")),
        )
        with self._lock:
            previous = self.sessions.pop(mac, None)
            self.sessions[mac] = session
        if previous is not None:
            self._account(previous, "Stop", Acct_Terminate_Cause="User-Request")
        self._account(session, "Start")
        return None

    def log_out(self, mac: str) -> bool:
        with self._lock:
            session = self.sessions.pop(mac, None)
        if session is None:
            return False
        self._account(
            session,
            "Stop",
            Acct_Session_Time=int(time.time() - session.started_at),
            Acct_Terminate_Cause="User-Request",
        )
        return True


def _fill(template: str, values: dict[str, str]) -> str:
    """Fill RouterOS's $(name) variables, as the router does when it serves a page."""
    for name, value in values.items():
        template = template.replace(f"$({name})", escape(value))
    return template


def _first(values):
    return values[0] if values else None


def _is_hex_md5(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdefABCDEF" for c in text)


def chap_password_hex(chap_id: bytes, password: str, challenge: bytes) -> str:
    return hashlib.md5(chap_id + password.encode() + challenge).hexdigest()


def _handler_for(hotspot: HotspotEmulator):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # the demo's console stays readable
            pass

        def _send(self, status: int, body: str = "", *, location=None, cookie_mac=None,
                  content_type: str = "text/html; charset=utf-8") -> None:  # fmt: skip
            data = body.encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.send_header("cache-control", "no-store")
            if location:
                self.send_header("location", location)
            if cookie_mac:
                self.send_header(
                    "set-cookie", f"{DEVICE_COOKIE}={cookie_mac}; Path=/; SameSite=Lax"
                )
            self.end_headers()
            self.wfile.write(data)

        def _route(self) -> tuple[str | None, str, dict[str, str]]:
            """(the device's MAC or None, the page, the query)."""
            url = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            match = DEVICE_PATH.fullmatch(url.path)
            if match:
                return match["mac"].upper(), match["page"], query
            return None, url.path, query

        def _new_device(self, query: dict[str, str]) -> None:
            """A phone arriving: it gets its MAC (kept from a cookie when it has one)."""
            cookie = SimpleCookie(self.headers.get("cookie", ""))
            mac = (query.get("mac") or "").upper()
            if not MAC_PATTERN.fullmatch(mac):
                known = cookie[DEVICE_COOKIE].value if DEVICE_COOKIE in cookie else ""
                mac = known if MAC_PATTERN.fullmatch(known) else random_mac()
            page = "status" if mac in hotspot.sessions else "login"
            forward = {key: value for key, value in query.items() if key != "mac"}
            suffix = f"?{urlencode(forward)}" if forward else ""
            location = f"{hotspot.device_url(mac)}/{page}{suffix}"
            self._send(302, location=location, cookie_mac=mac)

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            return {key: values[0] for key, values in parse_qs(raw).items()}

        def do_GET(self):
            mac, page, query = self._route()
            if mac is None:
                if page == "/emulator/sessions":
                    sessions = [asdict(session) for session in hotspot.sessions.values()]
                    self._send(200, json.dumps(sessions), content_type="application/json")
                elif page in ("/", "/login"):
                    self._new_device(query)
                else:
                    self._send(404, "not found")
            elif page == "login":
                if mac in hotspot.sessions:
                    self._send(302, location="status")
                    return
                orig = query.get("dst") or DEFAULT_ORIG
                self._send(200, hotspot.login_page(mac, error=query.get("error", ""), orig=orig))
            elif page == "status":
                self._send(200, hotspot.status_page(mac))
            elif page == "session":
                self._send(200, hotspot.session_page(mac))
            elif page == "logout":
                hotspot.log_out(mac)
                self._send(302, location="login")
            else:
                self._send(404, "not found")

        def do_POST(self):
            mac, page, _ = self._route()
            form = self._form()
            if mac is not None and page == "login":
                error = hotspot.log_in(mac, form.get("username", ""), form.get("password", ""))
                if error is not None:
                    target = "login?" + urlencode({"error": error})
                else:
                    target = form.get("dst") or "status"
                    if target == DEFAULT_ORIG:
                        target = "status"
                self._send(302, location=target)
            elif mac is not None and page == "logout":
                hotspot.log_out(mac)
                self._send(302, location="login")
            else:
                self._send(404, "not found")

    return Handler
