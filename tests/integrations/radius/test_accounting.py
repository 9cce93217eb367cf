"""Accounting-Requests from radclient reach the sink as typed records (octets with their
gigawords), and are answered only once the sink has them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from kiunga.integrations.radius import wire
from kiunga.integrations.radius.dictionary import load_dictionary
from kiunga.integrations.radius.interfaces import AcctStatus
from pyrad.packet import AcctPacket

SESSION = """\
User-Name = "alice"
Acct-Session-Id = "81a00001"
NAS-IP-Address = 10.0.0.1
NAS-Identifier = "tower-3"
Framed-IP-Address = 10.20.0.7
Calling-Station-Id = "AA:BB:CC:00:11:22"
"""


async def test_a_session_start_interim_stop_reaches_the_sink_with_gigaword_totals(nas, radius):
    start = await nas.radclient(
        radius.acct, "acct", SESSION + "Acct-Status-Type = Start\nEvent-Timestamp = 1764590400\n"
    )
    interim = await nas.radclient(
        radius.acct,
        "acct",
        SESSION
        + "Acct-Status-Type = Interim-Update\nAcct-Session-Time = 600\n"
        + "Acct-Input-Octets = 100\nAcct-Input-Gigawords = 1\n"
        + "Acct-Output-Octets = 4294967295\nAcct-Output-Gigawords = 2\n",
    )
    stop = await nas.radclient(
        radius.acct,
        "acct",
        SESSION
        + "Acct-Status-Type = Stop\nAcct-Session-Time = 1200\n"
        + "Acct-Input-Octets = 5\nAcct-Input-Gigawords = 3\nAcct-Output-Octets = 7\n"
        + "Acct-Terminate-Cause = User-Request\nAcct-Delay-Time = 2\n",
    )

    for result in (start, interim, stop):
        assert result.reply_code == "Accounting-Response", result.output
    # answered only after the flush (wait_for_flush): no waiting needed here
    first, second, third = radius.flushed.records
    assert first.status is AcctStatus.START
    assert first.tenant_key == "isp-one" and first.router_id == "router-1"
    assert first.session_id == "81a00001"
    assert first.username == "alice"
    assert first.nas_ip == "10.0.0.1"
    assert first.nas_identifier == "tower-3"
    assert first.framed_ip == "10.20.0.7"
    assert first.calling_station_id == "AA:BB:CC:00:11:22"
    assert first.event_time == datetime(2025, 12, 1, 12, 0, tzinfo=UTC)
    assert first.input_octets is None and first.session_time is None

    assert second.status is AcctStatus.INTERIM_UPDATE
    assert second.session_time == 600
    assert second.input_octets == 2**32 + 100
    assert second.output_octets == 2 * 2**32 + 4294967295

    assert third.status is AcctStatus.STOP
    assert third.input_octets == 3 * 2**32 + 5
    assert third.output_octets == 7
    assert third.terminate_cause == 1 and third.terminate_cause_name == "User-Request"
    assert third.delay_time == 2
    assert radius.metrics.value("accounting", status="stop") == 1


async def test_accounting_on_and_off(nas, radius):
    for status in ("Accounting-On", "Accounting-Off"):
        result = await nas.radclient(
            radius.acct, "acct", f"Acct-Status-Type = {status}\nNAS-IP-Address = 10.0.0.1\n"
        )
        assert result.reply_code == "Accounting-Response", result.output

    assert [r.status for r in radius.flushed.records] == [
        AcctStatus.ACCOUNTING_ON,
        AcctStatus.ACCOUNTING_OFF,
    ]


async def test_a_wrong_secret_is_dropped_and_counted(nas, radius):
    result = await nas.radclient(
        radius.acct, "acct", SESSION + "Acct-Status-Type = Start\n", secret="nope", wait=1
    )

    assert result.reply_code is None, result.output
    assert radius.metrics.value("dropped", reason="bad_authenticator") == 1
    assert radius.flushed.records == []


async def test_an_unknown_nas_is_dropped(nas, radius):
    radius.directory.clients.clear()

    result = await nas.radclient(
        radius.acct, "acct", SESSION + "Acct-Status-Type = Start\n", wait=1
    )

    assert result.reply_code is None
    assert radius.metrics.value("dropped", reason="unknown_client") == 1


def _pyrad_accounting(secret: bytes) -> AcctPacket:
    request = AcctPacket(id=41, secret=secret, dict=load_dictionary())
    request["Acct-Status-Type"] = "Interim-Update"
    request["Acct-Session-Id"] = "dup-1"
    request["Acct-Input-Octets"] = 10
    return request


async def test_a_retransmitted_accounting_request_is_recorded_once(radius, udp_peer):
    request = _pyrad_accounting(radius.secret)
    raw = request.RequestPacket()

    udp_peer.send(raw, radius.acct)
    first = await udp_peer.reply()
    udp_peer.send(raw, radius.acct)
    second = await udp_peer.reply()

    assert first == second
    assert request.VerifyReply(request.CreateReply(packet=first), first)
    assert first[0] == wire.ACCOUNTING_RESPONSE
    assert [r.session_id for r in radius.flushed.records] == ["dup-1"]
    assert radius.metrics.value("duplicates", port="acct") == 1


class RefusingSink:
    def __init__(self) -> None:
        self.offered = asyncio.Queue()

    async def accept(self, record) -> bool:
        self.offered.put_nowait(record)
        return False


async def test_a_record_the_sink_refuses_is_not_answered_and_a_retry_is_offered_again(
    start_radius, udp_peer
):
    sink = RefusingSink()
    async with start_radius(sink=sink) as radius:
        request = _pyrad_accounting(radius.secret)
        raw = request.RequestPacket()

        for _ in range(2):
            udp_peer.send(raw, radius.acct)
            await asyncio.wait_for(sink.offered.get(), 5)

        await radius.server.close()  # waits for the refusals to be handled
        assert udp_peer.replies.empty()
        assert radius.metrics.value("dropped", reason="sink_refused") == 2


class SlowSink:
    def __init__(self) -> None:
        self.offered: asyncio.Queue = asyncio.Queue()
        self.release = asyncio.Event()

    async def accept(self, record) -> bool:
        self.offered.put_nowait(record)
        await self.release.wait()
        return True


async def test_a_retransmission_while_the_sink_takes_the_record_is_not_answered_twice(
    start_radius, udp_peer
):
    sink = SlowSink()
    async with start_radius(sink=sink) as radius:
        request = _pyrad_accounting(radius.secret)
        raw = request.RequestPacket()
        later = _pyrad_accounting(radius.secret)
        later.id = 42
        later["Acct-Session-Id"] = "later"

        udp_peer.send(raw, radius.acct)
        udp_peer.send(raw, radius.acct)
        udp_peer.send(later.RequestPacket(), radius.acct)
        # the retransmission sits between these two on the socket
        offered = [await asyncio.wait_for(sink.offered.get(), 5) for _ in range(2)]
        assert [record.session_id for record in offered] == ["dup-1", "later"]
        assert radius.metrics.value("dropped", reason="in_progress") == 1

        sink.release.set()
        replies = sorted([(await udp_peer.reply())[1] for _ in range(2)])
        assert replies == [41, 42]
        assert radius.metrics.value("accounting", status="interim_update") == 2
