"""The hot path's codec agrees with pyrad and with the shipped dictionary; the batching
sink flushes by size and by age, and retries a failed flush."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

import pytest
from kiunga.integrations.radius import wire
from kiunga.integrations.radius.accounting import BatchingSink
from kiunga.integrations.radius.dictionary import DICTIONARY_PATH, load_dictionary
from kiunga.integrations.radius.interfaces import AccountingRecord, AcctStatus, Authorization
from pyrad.packet import AuthPacket, Packet

SECRET = b"s3cret"


def test_the_dictionary_ships_in_the_package_and_names_the_numbers_the_server_uses():
    assert DICTIONARY_PATH.parent.name == "radius" and DICTIONARY_PATH.is_file()
    attributes = load_dictionary().attributes
    standard = {
        "User-Name": wire.USER_NAME,
        "User-Password": wire.USER_PASSWORD,
        "CHAP-Password": wire.CHAP_PASSWORD,
        "NAS-IP-Address": wire.NAS_IP_ADDRESS,
        "Framed-IP-Address": wire.FRAMED_IP_ADDRESS,
        "Reply-Message": wire.REPLY_MESSAGE,
        "Session-Timeout": wire.SESSION_TIMEOUT,
        "Idle-Timeout": wire.IDLE_TIMEOUT,
        "Calling-Station-Id": wire.CALLING_STATION_ID,
        "NAS-Identifier": wire.NAS_IDENTIFIER,
        "Proxy-State": wire.PROXY_STATE,
        "Acct-Status-Type": wire.ACCT_STATUS_TYPE,
        "Acct-Delay-Time": wire.ACCT_DELAY_TIME,
        "Acct-Input-Octets": wire.ACCT_INPUT_OCTETS,
        "Acct-Output-Octets": wire.ACCT_OUTPUT_OCTETS,
        "Acct-Session-Id": wire.ACCT_SESSION_ID,
        "Acct-Session-Time": wire.ACCT_SESSION_TIME,
        "Acct-Input-Packets": wire.ACCT_INPUT_PACKETS,
        "Acct-Output-Packets": wire.ACCT_OUTPUT_PACKETS,
        "Acct-Terminate-Cause": wire.ACCT_TERMINATE_CAUSE,
        "Acct-Input-Gigawords": wire.ACCT_INPUT_GIGAWORDS,
        "Acct-Output-Gigawords": wire.ACCT_OUTPUT_GIGAWORDS,
        "Event-Timestamp": wire.EVENT_TIMESTAMP,
        "CHAP-Challenge": wire.CHAP_CHALLENGE,
        "EAP-Message": wire.EAP_MESSAGE,
        "Message-Authenticator": wire.MESSAGE_AUTHENTICATOR,
        "Acct-Interim-Interval": wire.ACCT_INTERIM_INTERVAL,
        "Error-Cause": wire.ERROR_CAUSE,
    }
    for name, code in standard.items():
        assert attributes[name].code == code and not attributes[name].vendor, name
    mikrotik = {
        "Mikrotik-Recv-Limit": 1,
        "Mikrotik-Xmit-Limit": 2,
        "Mikrotik-Group": wire.MIKROTIK_GROUP,
        "Mikrotik-Rate-Limit": wire.MIKROTIK_RATE_LIMIT,
        "Mikrotik-Total-Limit": wire.MIKROTIK_TOTAL_LIMIT,
        "Mikrotik-Total-Limit-Gigawords": wire.MIKROTIK_TOTAL_LIMIT_GIGAWORDS,
        "Mikrotik-Address-List": wire.MIKROTIK_ADDRESS_LIST,
    }
    for name, code in mikrotik.items():
        assert attributes[name].code == code, name
        assert load_dictionary().vendors.GetForward(attributes[name].vendor) == wire.MIKROTIK


@pytest.mark.parametrize(
    "password", [b"", b"a", b"sixteen-octets!!", b"x" * 40, "p\u00e4ss".encode()]
)
def test_pap_round_trips_with_pyrad(password):
    request = AuthPacket(secret=SECRET, authenticator=os.urandom(16), dict=load_dictionary())
    cipher = request.PwCrypt(password)

    assert wire.pap_encrypt(SECRET, request.authenticator, password) == cipher
    assert wire.pap_decrypt(SECRET, request.authenticator, cipher) == password


def test_pap_with_another_secret_is_told_apart_by_its_padding():
    authenticator = bytes(range(16))
    cipher = wire.pap_encrypt(b"right", authenticator, b"pw")
    # with the wrong secret the 14 padding octets come out random
    assert wire.pap_decrypt(b"wrong", authenticator, cipher) is None


def test_a_signed_reply_verifies_with_pyrad():
    request = AuthPacket(secret=SECRET, dict=load_dictionary(), User_Name="u")
    request.add_message_authenticator()
    raw_request = request.RequestPacket()
    attributes = Authorization(
        password=b"x",
        rate_limit="4M/4M",
        session_timeout=60,
        total_limit_bytes=10 * 2**30 + 7,
        framed_ip="100.64.0.9",
        address_list="paid",
        group="default",
        idle_timeout=300,
        acct_interim_interval=600,
        reply_message="Welcome",
    ).wire_attributes

    raw = wire.sign_reply(wire.ACCESS_ACCEPT, raw_request[1], raw_request[4:20], attributes, SECRET)
    reply = request.CreateReply(packet=raw)

    assert request.VerifyReply(reply, raw, enforce_ma=True)
    assert reply["Mikrotik-Rate-Limit"] == ["4M/4M"]
    assert reply["Mikrotik-Total-Limit"] == [2 * 2**30 + 7]
    assert reply["Mikrotik-Total-Limit-Gigawords"] == [2]
    assert reply["Framed-IP-Address"] == ["100.64.0.9"]
    assert reply["Mikrotik-Address-List"] == ["paid"]
    assert reply["Mikrotik-Group"] == ["default"]
    assert reply["Session-Timeout"] == [60]
    assert reply["Idle-Timeout"] == [300]
    assert reply["Acct-Interim-Interval"] == [600]
    assert reply["Reply-Message"] == ["Welcome"]


def test_a_request_signed_by_pyrad_passes_our_checks():
    packet = Packet(code=wire.ACCOUNTING_REQUEST, secret=SECRET, dict=load_dictionary())
    packet["Acct-Status-Type"] = "Start"
    body = packet._PktEncodeAttributes()
    raw = wire.sign_request(wire.ACCOUNTING_REQUEST, 5, body, SECRET)

    assert wire.request_authenticator_ok(raw, SECRET)
    assert not wire.request_authenticator_ok(raw, b"other")


def test_an_authorization_that_cannot_be_sent_fails_when_made():
    with pytest.raises(ValueError):
        Authorization(password=b"x", framed_ip="2001:db8::1")
    with pytest.raises(ValueError):
        Authorization(password=b"x", session_timeout=2**32)


def test_oversized_values_are_refused_when_encoding():
    with pytest.raises(ValueError):
        wire.attribute(wire.REPLY_MESSAGE, b"x" * 254)
    with pytest.raises(ValueError):
        wire.integer(2**32)


def _record(number: int) -> AccountingRecord:
    return AccountingRecord(
        tenant_key="t", router_id="r", nas_address="127.0.0.1", status=AcctStatus.START,
        session_id=str(number), username=None, nas_ip=None, nas_identifier=None,
        framed_ip=None, calling_station_id=None, session_time=None, input_octets=None,
        output_octets=None, input_packets=None, output_packets=None, terminate_cause=None,
        event_time=None, delay_time=None, received_at=datetime.now(UTC),
    )  # fmt: skip


class Batches:
    def __init__(self, failures: int = 0) -> None:
        self.batches: list[list[str]] = []
        self.failures = failures
        self.arrived = asyncio.Event()

    async def __call__(self, batch) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database away")
        self.batches.append([record.session_id for record in batch])
        self.arrived.set()


async def test_the_sink_flushes_a_full_batch_at_once():
    batches = Batches()
    sink = BatchingSink(batches, max_batch=3, max_delay=60)
    await sink.start()
    for number in range(3):
        assert await sink.accept(_record(number))

    await asyncio.wait_for(batches.arrived.wait(), 5)
    assert batches.batches == [["0", "1", "2"]]
    await sink.close()


async def test_the_sink_flushes_a_partial_batch_after_max_delay():
    batches = Batches()
    sink = BatchingSink(batches, max_batch=100, max_delay=0.05)
    await sink.start()
    assert await sink.accept(_record(1))

    await asyncio.wait_for(batches.arrived.wait(), 5)
    assert batches.batches == [["1"]]
    await sink.close()


async def test_a_failed_flush_is_retried_with_the_same_records():
    batches = Batches(failures=2)
    sink = BatchingSink(batches, max_batch=2, max_delay=0.01, retry_delay=0.01)
    await sink.start()
    await sink.accept(_record(1))
    await sink.accept(_record(2))

    await asyncio.wait_for(batches.arrived.wait(), 5)
    assert batches.batches == [["1", "2"]]
    await sink.close()


async def test_waiting_for_the_flush_answers_only_once_flushed():
    batches = Batches(failures=1)
    sink = BatchingSink(
        batches, max_batch=10, max_delay=0.01, retry_delay=0.01, wait_for_flush=True
    )
    await sink.start()

    assert await sink.accept(_record(7))
    assert batches.batches == [["7"]]
    await sink.close()


async def test_past_max_pending_the_sink_refuses_and_close_flushes_the_rest():
    batches = Batches()
    sink = BatchingSink(batches, max_batch=100, max_delay=60, max_pending=2)
    await sink.start()
    assert await sink.accept(_record(1))
    assert await sink.accept(_record(2))
    assert not await sink.accept(_record(3))

    await sink.close()
    assert batches.batches == [["1", "2"]]
    assert not await sink.accept(_record(4))
