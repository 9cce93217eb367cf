"""The files an operator uploads to a MikroTik router's hotspot folder, and the
walled-garden lines that let users reach the portal before they log in.

The router fills `$(name)` variables in these pages itself. login.html hands every
parameter the portal needs to https://<ISP host>/portal/login; status.html (and
alogin.html, shown after a login without a destination) sends the user to the portal's
status page with the voucher's username and the router's logout link.
"""

from __future__ import annotations

from html import escape

ROUTER_LOGIN_FIELDS = (
    "mac",
    "ip",
    "username",
    "link-login",
    "link-login-only",
    "link-orig",
    "link-logout",
    "chap-id",
    "chap-challenge",
    "error",
)
STATUS_FIELDS = ("username", "mac", "ip", "link-logout", "link-login-only")

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="pragma" content="no-cache"><meta http-equiv="expires" content="-1">
<title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em 1em;text-align:center}}
button{{font-size:1.2em;padding:.7em 2em;border:0;border-radius:6px;
background:{colour};color:#fff}}</style>
</head><body>
<p>{title}</p>
<form name="portal" action="{action}" method="{method}">
{fields}
<button type="submit">Continue / Endelea</button>
</form>
<script>document.portal.submit();</script>
</body></html>
"""


def portal_origin(host: str, scheme: str = "https") -> str:
    return f"{scheme}://{host}"


def _hidden(names: tuple[str, ...]) -> str:
    return "\n".join(f'<input type="hidden" name="{name}" value="$({name})">' for name in names)


def login_html(host: str, title: str, *, scheme: str = "https", colour: str = "#0b6e4f") -> str:
    """login.html: posts the router's parameters to the portal (by script at once, or by
    the button where scripts are off)."""
    return _PAGE.format(
        title=escape(title),
        colour=colour,
        action=f"{portal_origin(host, scheme)}/portal/login",
        method="post",
        fields=_hidden(ROUTER_LOGIN_FIELDS),
    )


def status_html(host: str, title: str, *, scheme: str = "https", colour: str = "#0b6e4f") -> str:
    """status.html (also used as alogin.html): the portal's status page, with the time
    and data left and a log-out button that posts to the router's link-logout."""
    return _PAGE.format(
        title=escape(title),
        colour=colour,
        action=f"{portal_origin(host, scheme)}/portal/status",
        method="get",
        fields=_hidden(STATUS_FIELDS),
    )


def walled_garden(host: str, addresses: list[str] | tuple[str, ...] = ()) -> str:
    """RouterOS commands that let users who have not logged in reach the portal: by name
    for HTTP(S) (walled-garden) and for every other packet (walled-garden ip), and by the
    portal's current addresses in case the router cannot see the name in the traffic."""
    comment = f'comment="Kiunga portal {host}"'
    lines = [
        f"/ip hotspot walled-garden add dst-host={host} {comment}",
        f"/ip hotspot walled-garden ip add action=accept dst-host={host} {comment}",
    ]
    lines += [
        f"/ip hotspot walled-garden ip add action=accept dst-address={address} {comment}"
        for address in addresses
    ]
    return "\n".join(lines) + "\n"
