"""CHAP as MikroTik's hotspot checks it, the router's octal escapes, the signed router
state, and the files an operator uploads to the router."""

from __future__ import annotations

import re

from kiunga.channels.portal.chap import chap_response, decode_octal
from kiunga.channels.portal.router_files import (
    ROUTER_LOGIN_FIELDS,
    login_html,
    status_html,
    walled_garden,
)
from kiunga.channels.portal.state import RouterState, Signer

from .conftest import router_fields


def test_octal_escapes_become_bytes():
    assert decode_octal("\\321") == b"\xd1"
    assert decode_octal("\\005\\242\\017\\377\\000") == b"\x05\xa2\x0f\xff\x00"
    assert decode_octal("\\1\\12\\123x") == b"\x01\x0aSx"
    assert decode_octal("") == b""


def test_chap_response_matches_known_vectors():
    # MikroTik's own login.html computes hexMD5('$(chap-id)' + password + '$(chap-challenge)')
    # in JavaScript, where the octal escapes are bytes. Vectors written down from coreutils:
    # printf '\321secret\005\242…\007' | md5sum
    challenge = "\\005\\242\\017\\377\\000\\123\\044\\311\\167\\001\\002\\003\\004\\005\\006\\007"
    assert chap_response("\\321", "secret", challenge) == "63fb9a501195769094c0064148bf4b54"
    zeros = "\\000" * 16
    assert chap_response("\\000", "password", zeros) == "ff6d2069e4d20b247049755ee753b7d8"


def test_router_state_survives_signing_and_refuses_changes():
    signer = Signer(b"k" * 32)
    state = RouterState.from_router(router_fields())
    assert state.mac == "AA:BB:CC:00:11:22" and state.uses_chap
    assert state.login_url == "http://10.5.50.1/login"
    token = signer.dump_state(7, state)
    assert signer.load_state(7, token) == state
    assert signer.load_state(8, token) is None  # another ISP's portal
    assert signer.load_state(7, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert signer.load_state(7, token, now=10**10) is None  # stale
    assert RouterState.from_router({"mac": "AA:BB:CC:00:11:22"}) is None
    odd = RouterState.from_router(router_fields(**{"link-orig": "javascript:x", "mac": "zz"}))
    assert odd.original_url == "" and odd.mac is None
    assert RouterState.from_router(router_fields(login_url="javascript:alert(1)")) is None


def test_generated_router_pages_post_every_parameter_to_the_portal():
    page = login_html("isp.kiunga.test", "Kibera <Wi-Fi>")
    assert 'action="https://isp.kiunga.test/portal/login" method="post"' in page
    for name in ROUTER_LOGIN_FIELDS:
        assert f'name="{name}" value="$({name})"' in page
    assert "document.portal.submit()" in page and "<button" in page  # script, or the button
    assert "Kibera &lt;Wi-Fi&gt;" in page
    status = status_html("isp.kiunga.test", "Kibera")
    assert 'action="https://isp.kiunga.test/portal/status" method="get"' in status
    assert 'name="link-logout" value="$(link-logout)"' in status
    assert re.search(r"\$\((?!mac|ip|username|link-|chap-|error)", page) is None


def test_walled_garden_lines():
    lines = walled_garden("isp.kiunga.test", ["203.0.113.7"]).splitlines()
    assert lines[0].startswith("/ip hotspot walled-garden add dst-host=isp.kiunga.test ")
    assert lines[1].startswith(
        "/ip hotspot walled-garden ip add action=accept dst-host=isp.kiunga.test "
    )
    assert "dst-address=203.0.113.7" in lines[2]
