"""Access-Requests from radclient answered from the subscriber cache: the package's rate,
the time left, the data left and the static address on an Accept; the reason on a Reject;
a user looked up only in the ISP whose router asks."""

from __future__ import annotations

from fixtures.radius import OTHER_SECRET, SECRET
from fixtures.waiting import eventually


async def test_an_active_service_is_accepted_with_its_package(radius, isp, add_service):
    await add_service(isp, "wanjiru", "her-pass-1", static_ip="100.64.0.9")
    await eventually(lambda: "wanjiru" in radius.authorizer.users.get(isp.schema, {}))
    reply = await radius.auth("wanjiru", "her-pass-1")
    assert reply.code == "Access-Accept", reply.output
    assert reply["Mikrotik-Rate-Limit"] == "5M/10M"
    assert reply["Framed-IP-Address"] == "100.64.0.9"
    assert reply["Acct-Interim-Interval"] == "60"
    # A month of prepaid time, less the moments since activation.
    left = int(reply["Session-Timeout"])
    assert 27 * 86400 < left <= 31 * 86400
    assert "Mikrotik-Total-Limit" not in reply.attributes
    # Logins are unique per ISP regardless of case, and matched so.
    assert (await radius.auth("WANJIRU", "her-pass-1")).code == "Access-Accept"


async def test_refusals_say_why(radius, isp, add_service):
    await add_service(isp, "otieno", "right-pass")
    await eventually(lambda: "otieno" in radius.authorizer.users.get(isp.schema, {}))
    wrong = await radius.auth("otieno", "wrong-pass")
    assert wrong.code == "Access-Reject"
    assert wrong["Reply-Message"] == "Wrong password"
    unknown = await radius.auth("nobody-here", "x")
    assert unknown.code == "Access-Reject"
    assert unknown["Reply-Message"] == "Unknown user"


async def test_a_data_bundle_sends_what_is_left(radius, isp, add_service):
    cap = 6 * 1024**3  # above 4 GiB: Mikrotik-Total-Limit-Gigawords carries the rest
    await add_service(isp, "bundle-6g", "pass-6g", data_cap_bytes=cap)
    await eventually(lambda: "bundle-6g" in radius.authorizer.users.get(isp.schema, {}))
    reply = await radius.auth("bundle-6g", "pass-6g")
    assert reply.code == "Access-Accept", reply.output
    total = int(reply["Mikrotik-Total-Limit"]) + (
        int(reply["Mikrotik-Total-Limit-Gigawords"]) << 32
    )
    assert total == cap


async def test_a_user_is_unknown_through_another_isps_router(radius, isp, other_isp, add_service):
    await add_service(isp, "kamau", "kamau-pass")
    await eventually(lambda: radius.directory.lookup("127.0.0.2"))
    await eventually(lambda: "kamau" in radius.authorizer.users.get(isp.schema, {}))
    assert (await radius.auth("kamau", "kamau-pass")).code == "Access-Accept"
    through_other = await radius.auth(
        "kamau", "kamau-pass", secret=OTHER_SECRET, source="127.0.0.2"
    )
    assert through_other.code == "Access-Reject", through_other.output
    assert through_other["Reply-Message"] == "Unknown user"
    # and the other ISP's own subscriber of the same login is theirs alone
    await add_service(other_isp, "kamau", "another-pass")
    await eventually(lambda: "kamau" in radius.authorizer.users.get(other_isp.schema, {}))
    theirs = await radius.auth("kamau", "another-pass", secret=OTHER_SECRET, source="127.0.0.2")
    assert theirs.code == "Access-Accept"
    assert (await radius.auth("kamau", "another-pass", secret=SECRET)).code == "Access-Reject"


async def test_usage_from_accounting_shrinks_what_is_left_without_a_reload(
    radius, isp, add_service
):
    """The accounting writer tells the cache a capped service's new period usage in its
    NOTIFY: the next Access-Accept sends what is left, and no service is read again."""
    cap = 6 * 1024**3
    await add_service(isp, "bundle-used", "pass-used", data_cap_bytes=cap)
    await eventually(lambda: "bundle-used" in radius.authorizer.users.get(isp.schema, {}))
    start = {"Acct-Status-Type": "Start", "Acct-Session-Id": "u-1", "User-Name": "bundle-used",
             "NAS-IP-Address": "127.0.0.1"}  # fmt: skip
    assert (await radius.acct(start)).code == "Accounting-Response"
    loads = radius.authorizer.partial_loads
    interim = start | {"Acct-Status-Type": "Interim-Update", "Acct-Input-Octets": 1000,
                       "Acct-Output-Octets": 500, "Acct-Output-Gigawords": 1}  # fmt: skip
    assert (await radius.acct(interim)).code == "Accounting-Response"
    used = 1000 + 500 + (1 << 32)
    await eventually(lambda: radius.authorizer.users[isp.schema]["bundle-used"].used_bytes == used)
    assert radius.authorizer.partial_loads == loads
    reply = await radius.auth("bundle-used", "pass-used")
    total = int(reply["Mikrotik-Total-Limit"]) + (
        int(reply.attributes.get("Mikrotik-Total-Limit-Gigawords", "0")) << 32
    )
    assert total == cap - used
