"""Unit tests of the relay's routing protocol, limits and log (pure code, no sockets).

The wire bytes are written out literally here, as docs/RELAY.md documents
them, so a change to the format breaks these tests and not only round trips.
"""

from __future__ import annotations

import argparse
import io

import pytest

from confide.cli import main
from confide.errors import (
    EXIT_CONNECT,
    ClosedError,
    RefusedError,
    RelayClosedError,
    RelayRefusedError,
    RelayTooOldError,
)
from confide.relay.limits import (
    Budgets,
    JoinBucket,
    Limits,
    RoomBudgets,
    add_arguments,
    from_args,
    room_budgets,
    source_key,
)
from confide.relay.log import EventLog
from confide.ui.texts import close_text, describe, disconnect_reason
from confide.wire import routing
from confide.wire.routing import Deframer, FrameError, Reason

TOKEN = bytes(range(16))


def test_request_frames_have_the_documented_bytes() -> None:
    assert routing.open_request() == b"\x01\x00\x00\x01\x01"
    assert routing.join_request("42") == b"\x02\x00\x00\x03\x0142"
    assert routing.accept_request(TOKEN, 7) == (
        b"\x03\x00\x00\x15\x01" + TOKEN + b"\x00\x00\x00\x07"
    )
    assert routing.frame(routing.PING) == b"\x04\x00\x00\x00"


def test_relay_frames_have_the_documented_bytes() -> None:
    opened = routing.opened(routing.Opened("815", TOKEN, 600.0, 3600.0))
    assert opened == (
        b"\x81\x00\x00\x1b"
        + TOKEN
        + (600_000).to_bytes(4, "big")
        + (3_600_000).to_bytes(4, "big")
        + b"815"
    )
    assert routing.incoming(3) == b"\x82\x00\x00\x04\x00\x00\x00\x03"
    assert routing.frame(routing.SPLICED) == b"\x83\x00\x00\x00"
    assert routing.close(Reason.RATE_LIMITED, 12) == b"\x85\x00\x00\x05\x02\x00\x00\x00\x0c"
    assert routing.close(Reason.RELAY_BUSY) == b"\x85\x00\x00\x05\x0e\x00\x00\x00\x00"
    assert routing.close(Reason.ALREADY_WAITING) == b"\x85\x00\x00\x05\x0f\x00\x00\x00\x00"
    assert routing.frame(routing.PONG) == b"\x86\x00\x00\x00"


def test_take_frame_waits_for_a_whole_frame_then_removes_it() -> None:
    wire = routing.join_request("7") + b"rest"
    buf = bytearray()
    for i, byte in enumerate(wire[:-5]):
        buf.append(byte)
        assert routing.take_frame(buf, 256) is None, f"a frame after {i + 1} bytes"
    buf += wire[-5:]
    assert routing.take_frame(buf, 256) == (routing.JOIN, b"\x017")
    assert buf == b"rest"


def test_oversized_frame_is_refused_from_its_header_alone() -> None:
    buf = bytearray(b"\x02\x01\x00\x00")  # JOIN, 65536 bytes announced, none sent
    with pytest.raises(FrameError) as info:
        routing.take_frame(buf, 256)
    assert info.value.reason is Reason.FRAME_TOO_LARGE
    buf = bytearray(b"\x02\x00\x01\x01")  # 257 > 256
    with pytest.raises(FrameError):
        routing.take_frame(buf, 256)
    assert routing.take_frame(bytearray(b"\x02\x00\x01\x00" + b"\x01" + b"1" * 255), 256)


@pytest.mark.parametrize(
    "garbage",
    [b"GET / HTTP/1.1\r\n", b"\x16\x03\x01\x02\x00", b"\x00\x00\x00\x05hello", b"\x85\x00\x00\x00"],
)
def test_garbage_is_refused_on_the_first_byte_it_can_judge(garbage: bytes) -> None:
    with pytest.raises(FrameError) as info:
        routing.take_frame(bytearray(garbage), 256)
    assert info.value.reason is Reason.BAD_FRAME


@pytest.mark.parametrize(
    ("ftype", "body", "why"),
    [
        (routing.PING, b"", "first frame"),
        (routing.OPEN, b"", "no version"),
        (routing.OPEN, b"\x02", "version 2"),
        (routing.OPEN, b"\x01xy", "OPEN with two arguments"),
        (routing.OPEN, b"\x01\x00", "a room of no members"),
        (routing.OPEN, b"\x01\x01", "a room of one member"),
        (routing.OPEN, b"\x01\x14\x00", "a member limit of two bytes"),
        (routing.JOIN, b"\x01", "no nameplate"),
        (routing.JOIN, b"\x01abc", "letters"),
        (routing.JOIN, b"\x01" + b"1" * 17, "17 digits"),
        (routing.JOIN, b"\x01\xd9\xa3", "non-ASCII digit"),
        (routing.JOIN, b"\x01-5", "a sign"),
        (routing.ACCEPT, b"\x01" + TOKEN, "no joiner id"),
        (routing.ACCEPT, b"\x01" + TOKEN + b"\x00" * 5, "too long"),
    ],
)
def test_bad_requests_are_refused(ftype: int, body: bytes, why: str) -> None:
    with pytest.raises(FrameError) as info:
        routing.parse_request(ftype, body)
    assert info.value.reason is Reason.BAD_FRAME, why


def test_good_requests_parse() -> None:
    assert routing.parse_request(routing.OPEN, b"\x01") == routing.Request(routing.OPEN)
    assert routing.parse_request(routing.OPEN, b"\x01").members == 2
    assert routing.parse_request(routing.JOIN, b"\x01007").nameplate == "7"
    accept = routing.parse_request(routing.ACCEPT, b"\x01" + TOKEN + b"\x00\x00\x01\x00")
    assert (accept.token, accept.joiner) == (TOKEN, 256)


def test_an_open_declares_its_room_size_only_above_two() -> None:
    # A room for two sends the OPEN every relay knows; a bigger one adds one byte.
    assert routing.open_request(2) == routing.open_request() == b"\x01\x00\x00\x01\x01"
    assert routing.open_request(20) == b"\x01\x00\x00\x02\x01\x14"
    assert routing.open_request(255) == b"\x01\x00\x00\x02\x01\xff"
    for members in (2, 3, 20, 50, 255):
        got = routing.take_frame(bytearray(routing.open_request(members)), 256)
        assert got is not None
        assert routing.parse_request(*got) == routing.Request(routing.OPEN, members=members)
    # The explicit form of a room for two means the same as the plain one.
    assert routing.parse_request(routing.OPEN, b"\x01\x02") == routing.Request(routing.OPEN)
    for bad in (-1, 0, 1, 256):
        with pytest.raises(ValueError, match="2 to 255 members"):
            routing.open_request(bad)


def test_nameplates_are_canonical_digits() -> None:
    assert routing.check_nameplate("0042") == "42"
    for bad in ("", "4 2", "x", "1" * 17, "²"):
        with pytest.raises(ValueError, match="nameplate"):
            routing.check_nameplate(bad)


def test_deframer_streams_data_and_keeps_control_frames_whole() -> None:
    wire = (
        routing.frame(routing.SPLICED)
        + routing.frame(routing.DATA, b"hello ")
        + routing.frame(routing.DATA, b"")
        + routing.frame(routing.DATA, b"world")
        + routing.close(Reason.SHUTDOWN)
    )
    for size in (1, 2, 3, 5, len(wire)):
        deframer = Deframer()
        got: list[tuple[int, bytes]] = []
        for i in range(0, len(wire), size):
            got += deframer.feed(wire[i : i + size])
        data = b"".join(body for ftype, body in got if ftype == routing.DATA)
        others = [(ftype, body) for ftype, body in got if ftype != routing.DATA]
        assert data == b"hello world"
        assert others == [(routing.SPLICED, b""), (routing.CLOSE, b"\x09\x00\x00\x00\x00")]


def test_deframer_passes_a_large_data_frame_on_before_it_is_complete() -> None:
    deframer = Deframer()
    out = deframer.feed(routing.header(routing.DATA, 1 << 20) + b"x" * 1000)
    assert out == [(routing.DATA, b"x" * 1000)]


def test_deframer_refuses_bad_relay_frames() -> None:
    with pytest.raises(FrameError) as info:
        Deframer().feed(b"\x01\x00\x00\x00")  # a client type from the relay
    assert info.value.reason is Reason.BAD_FRAME
    with pytest.raises(FrameError) as info:
        Deframer(max_control=100).feed(b"\x82\x00\x00\x65")  # a 101-byte INCOMING
    assert info.value.reason is Reason.FRAME_TOO_LARGE


def test_relay_answers_parse() -> None:
    answer = routing.Opened("815", TOKEN, 1.5, 3600.0)
    body = routing.opened(answer)[routing.HEADER :]
    assert routing.parse_opened(body) == answer
    with pytest.raises(FrameError):
        routing.parse_opened(body[:24])
    with pytest.raises(FrameError):
        routing.parse_opened(body[:24] + b"8x")
    assert routing.parse_incoming(b"\x00\x00\x00\x09") == 9
    assert routing.parse_close(b"\x02\x00\x00\x00\x1e") == (Reason.RATE_LIMITED, 30)
    assert routing.parse_close(b"\xee\x00\x00\x00\x00") == (None, 0)
    assert routing.parse_close(b"") == (None, 0)


def test_join_bucket_allows_a_burst_then_refills_slowly() -> None:
    bucket = JoinBucket(burst=3, per_minute=6, now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0, 0, 0]
    assert bucket.take(100.0) == 10  # one attempt per 10 s
    assert bucket.take(105.0) == 5
    assert bucket.take(110.5) == 0
    assert bucket.take(110.5) > 0
    assert [bucket.take(1000.0) for _ in range(4)] == [0, 0, 0, 10]  # never above the burst


def test_join_bucket_can_be_checked_without_spending() -> None:
    bucket = JoinBucket(burst=2, per_minute=6, now=0.0)
    assert [bucket.wait(0.0) for _ in range(5)] == [0] * 5  # looking spends nothing
    bucket.spend()
    assert not bucket.full(0.0)
    assert bucket.full(10.0)  # one attempt back after 10 s: full again
    bucket.spend()
    assert bucket.wait(0.0) == 10


def test_budgets_are_per_key_and_forgotten_once_full() -> None:
    budgets = Budgets(burst=2, per_minute=6)
    for _ in range(2):
        assert budgets.wait("198.51.100.4", 0.0) == 0
        budgets.spend("198.51.100.4", 0.0)
    assert budgets.wait("198.51.100.4", 0.0) == 10
    assert budgets.wait("203.0.113.7", 0.0) == 0  # another address has its own budget
    budgets.prune(5.0)
    assert len(budgets) == 1
    budgets.prune(20.0)
    assert len(budgets) == 0
    assert budgets.wait("198.51.100.4", 20.0) == 0


def test_a_room_for_two_keeps_the_flags_budgets() -> None:
    defaults = Limits()
    assert room_budgets(defaults) == room_budgets(defaults, 2) == RoomBudgets(2, 20, 60.0, 5, 10.0)


def test_a_rooms_budgets_grow_by_one_per_member_above_two() -> None:
    assert room_budgets(Limits(), 20) == RoomBudgets(20, 38, 78.0, 23, 28.0)
    # The relay's cap bounds what a host may claim; a bigger room gets the cap's budgets.
    capped = Limits(max_room_members=10)
    assert (
        room_budgets(capped, 255) == room_budgets(capped, 10) == RoomBudgets(10, 28, 68.0, 13, 18.0)
    )
    assert room_budgets(Limits(max_room_members=2), 50) == room_budgets(Limits())


def test_budgets_can_size_each_keys_bucket() -> None:
    budgets = Budgets(burst=2, per_minute=6)
    for _ in range(4):
        assert budgets.wait("big", 0.0) == 0
        budgets.spend("big", 0.0, burst=4, per_minute=12)
    assert budgets.wait("big", 0.0) == 5  # its own rate: one every 5 s
    budgets.spend("small", 0.0)
    budgets.spend("small", 0.0)
    assert budgets.wait("small", 0.0) == 10


def test_an_address_is_an_ipv4_address_or_an_ipv6_64() -> None:
    assert source_key("198.51.100.4") == "198.51.100.4"
    assert source_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert source_key("2001:db8:1:2::9") == "2001:db8:1:2::/64"
    assert source_key("2001:db8:1:3::9") != source_key("2001:db8:1:2::9")
    assert source_key("::ffff:198.51.100.4") == "198.51.100.4"
    assert source_key("fe80::1%eth0") == "fe80::/64"
    assert source_key("?") == "?"


def test_connection_limit_refusals_name_the_limit() -> None:
    where = "the relay at relay.example:7200"
    per_address = close_text(Reason.TOO_MANY_CONNECTIONS, 0, where)
    relay_wide = close_text(Reason.RELAY_BUSY, 0, where)
    assert per_address == f"{where} refused: too many connections from your address"
    assert relay_wide == (
        f"{where} is busy (it has all the connections it takes, from all addresses); "
        "try again later"
    )
    waiting = close_text(Reason.ALREADY_WAITING, 0, where, "815")
    assert waiting == (
        f"{where} refused: a join from your address is already waiting for room 815; "
        "try again in a moment"
    )


def test_log_lines_are_one_per_event_and_refusals_are_rate_limited() -> None:
    out = io.StringIO()
    now = [1000.0]
    log = EventLog(out, clock=lambda: now[0], max_refusals=2)
    log.event("closed", room="42", up=10, down=20, secs=1.25, why="eof")
    for _ in range(5):
        log.refused("hello-timeout", ip="127.0.0.1")
    now[0] += 1
    log.refused("bad-frame", ip="127.0.0.1", odd="a b=c\n")
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(" closed room=42 up=10 down=20 secs=1.2 why=eof")
    assert [line.split(" ", 2)[1] for line in lines] == [
        "closed",
        "refused",
        "refused",
        "refused-unlogged",
        "refused",
    ]
    assert lines[3].endswith("count=3")
    assert lines[4].endswith("odd='a b=c\\n'")  # a value can never forge a field or a line


@pytest.mark.parametrize(
    "flags",
    [
        ["--max-frame", "10"],
        ["--hello-timeout", "0"],
        ["--join-rate", "nan"],
        ["--port", "70000"],
        ["--room-join-burst", "0"],
        ["--unknown-room-rate", "-1"],
        ["--join-burst", "20"],  # as much as the room's: one address could empty it
        ["--join-rate", "61"],
        ["--max-room-members", "1"],
        ["--max-room-members", "256"],
    ],
)
def test_bad_relay_flags_are_usage_errors(flags: list[str]) -> None:
    assert main(["relay", "--bind", "127.0.0.1", *flags]) == 2


def test_relay_errors_are_said_in_the_same_words_everywhere() -> None:
    where = "the relay at relay.example:7200"
    refused = RelayRefusedError(Reason.RATE_LIMITED, 12, where, "42")
    closed = RelayClosedError(Reason.SHUTDOWN, 0, where)
    assert refused.exit_code == closed.exit_code == EXIT_CONNECT
    assert isinstance(refused, RefusedError)
    assert isinstance(closed, ClosedError)
    rate = f"{where} refused: too many join attempts for room 42; try again in 12 s"
    assert describe(refused) == close_text(Reason.RATE_LIMITED, 12, where, "42") == rate
    assert describe(closed) == f"{where} shut down"
    assert describe(RelayClosedError(None, 0, where)) == f"{where} closed the connection"
    assert describe(ClosedError("connection closed by the peer")) == (
        "connection closed by the peer"
    )
    assert str(closed) == f"{where} closed the connection (shutdown)"  # generic, no UI words
    # the end of a chat: the event's reason, or the relay's words when a relay ended it
    assert disconnect_reason(str(closed), closed) == f"{where} shut down"
    assert disconnect_reason(f"connection ended: {refused}", refused) == f"connection ended: {rate}"
    assert disconnect_reason("connection lost: reset", ClosedError("x")) == "connection lost: reset"
    assert disconnect_reason("gone", None) == "gone"


NAME = bytes(range(100, 116))


def test_meet_and_reattach_have_the_documented_bytes() -> None:
    assert routing.meet_request(NAME) == b"\x05\x00\x00\x11\x01" + NAME
    assert routing.reattach_request(TOKEN) == b"\x06\x00\x00\x11\x01" + TOKEN
    assert routing.frame(routing.LEAVE) == b"\x07\x00\x00\x00"
    assert routing.close(Reason.HOST_AWAY, 1) == b"\x85\x00\x00\x05\x10\x00\x00\x00\x01"
    assert routing.close(Reason.MEET_TIMEOUT) == b"\x85\x00\x00\x05\x11\x00\x00\x00\x00"
    assert routing.close(Reason.MEET_TAKEN) == b"\x85\x00\x00\x05\x12\x00\x00\x00\x00"
    for bad in (b"", NAME[:15], NAME + b"x"):
        with pytest.raises(ValueError, match="16 bytes"):
            routing.meet_request(bad)
        with pytest.raises(ValueError, match="16 bytes"):
            routing.reattach_request(bad)


def test_meet_and_reattach_parse() -> None:
    got = routing.take_frame(bytearray(routing.meet_request(NAME)), 256)
    assert got is not None
    assert routing.parse_request(*got) == routing.Request(routing.MEET, name=NAME)
    got = routing.take_frame(bytearray(routing.reattach_request(TOKEN)), 256)
    assert got is not None
    assert routing.parse_request(*got) == routing.Request(routing.REATTACH, token=TOKEN)
    for ftype in (routing.MEET, routing.REATTACH):
        for body in (b"\x01", b"\x01" + NAME[:15], b"\x01" + NAME + b"x", b"\x03" + NAME):
            with pytest.raises(FrameError) as info:
                routing.parse_request(ftype, body)
            assert info.value.reason is Reason.BAD_FRAME
    with pytest.raises(FrameError):  # LEAVE is only for a control connection
        routing.parse_request(routing.LEAVE, b"")


def test_the_resume_refusals_are_said_in_words() -> None:
    where = "the relay at relay.example:7200"
    assert close_text(Reason.HOST_AWAY, 1, where, "815") == (
        f"the host of room 815 lost its connection to {where} and has not come back yet; "
        "try again in a moment"
    )
    assert close_text(Reason.MEET_TIMEOUT, 0, where) == (
        f"the other side did not come to {where} in time"
    )
    assert close_text(Reason.MEET_TAKEN, 0, where) == (
        f"{where} refused: two others already met under that name"
    )
    too_old = RelayTooOldError(Reason.BAD_FRAME, 0, where)
    assert isinstance(too_old, RelayRefusedError)
    assert describe(too_old) == f"{where} can't resume sessions (it is too old)"
    for reason in Reason:  # every reason has its words
        assert close_text(reason, 0, where)


def test_room_grace_may_be_zero_and_the_meet_timeout_may_not() -> None:
    assert main(["relay", "--bind", "127.0.0.1", "--meet-timeout", "0"]) == 2
    assert main(["relay", "--bind", "127.0.0.1", "--room-grace", "-1"]) == 2
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parsed = from_args(parser.parse_args(["--room-grace", "0", "--meet-timeout", "5"]))
    assert (parsed.room_grace, parsed.meet_timeout) == (0.0, 5.0)
    assert (Limits().room_grace, Limits().meet_timeout) == (300.0, 60.0)
