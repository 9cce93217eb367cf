"""The device rules for hotspot logins, as the cache applies them (no database): a login
bound to a MAC address, the devices logged in at once, sessions gone quiet, and no grace
after the end of a period that is never renewed."""

from __future__ import annotations

import time

from kiunga.integrations.radius.interfaces import Authorization, Rejection, RejectReason
from kiunga.tenants.network.radius.subscribers import (
    DEVICES_IN_USE,
    EXPIRY_GRACE,
    OTHER_DEVICE,
    Subscriber,
    admit_device,
    decide,
)

PHONE, LAPTOP, TABLET = "AA:BB:CC:00:00:01", "AA:BB:CC:00:00:02", "AA:BB:CC:00:00:03"
NOW = time.time()
STALE = 120.0


def _login(**changes) -> Subscriber:
    values = dict(
        service_id=1,
        subscriber_id=1,
        username="N7K4PQ2M",
        password=b"N7K4PQ2M",
        status="active",
        prepaid=True,
        expires_at=NOW + 3600,
        rate_limit="2M/2M",
        fup_rate_limit=None,
        cap_bytes=None,
        used_bytes=0,
        static_ip=None,
        shared_users=1,
    )
    values.update(changes)
    return Subscriber(**values)


def _admit(subscriber: Subscriber, station: str | None):
    return admit_device(subscriber, station, NOW, stale_seconds=STALE, password=b"N7K4PQ2M")


def test_a_bound_login_admits_its_device_only():
    bound = _login(mac_address=PHONE)
    assert _admit(bound, "aa-bb-cc-00-00-01") is None
    refused = _admit(bound, LAPTOP)
    assert isinstance(refused, Rejection) and refused.message == OTHER_DEVICE
    assert refused.reason is RejectReason.NOT_ALLOWED and refused.password == b"N7K4PQ2M"
    assert _admit(bound, None).message == OTHER_DEVICE


def test_devices_at_once_count_open_sessions_heard_recently():
    one = _login(sessions=((PHONE, NOW - 30),))
    assert _admit(one, LAPTOP).message == DEVICES_IN_USE
    assert _admit(one, PHONE) is None  # the same device again
    assert _admit(one, None).message == DEVICES_IN_USE  # a device that does not say
    quiet = _login(sessions=((PHONE, NOW - STALE - 1),))
    assert _admit(quiet, LAPTOP) is None
    two = _login(shared_users=2, sessions=((PHONE, NOW), (LAPTOP, NOW)))
    assert _admit(two, TABLET).message == DEVICES_IN_USE
    assert _admit(two, LAPTOP) is None
    assert _admit(_login(shared_users=2, sessions=((PHONE, NOW),)), TABLET) is None
    assert _admit(_login(shared_users=None, sessions=((PHONE, NOW),) * 5), TABLET) is None


def test_no_grace_after_a_period_that_never_renews():
    ended = NOW - 60
    renewing = decide(_login(expires_at=ended), NOW)
    assert isinstance(renewing, Authorization)
    assert renewing.session_timeout == EXPIRY_GRACE - 60
    voucher = decide(_login(expires_at=ended, renews=False), NOW)
    assert isinstance(voucher, Rejection) and voucher.reason is RejectReason.EXPIRED
    running = decide(_login(expires_at=NOW + 600.5, renews=False), NOW)
    assert running.session_timeout == 601
