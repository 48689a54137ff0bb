"""Unit tests of routing version 2: ``REDIRECT``, its address, and the cluster's reasons (pure)."""

from __future__ import annotations

import pytest

from confide.wire import routing
from confide.wire.routing import Deframer, FrameError, Reason

NAME = bytes(range(16))


def test_a_redirect_carries_the_address_as_ascii() -> None:
    assert routing.redirect("b.example:7200") == b"\x87\x00\x00\x0eb.example:7200"
    assert routing.redirect("[::1]:7201") == b"\x87\x00\x00\x0a[::1]:7201"


@pytest.mark.parametrize("address", ["127.0.0.1:7200", "[2001:db8::1]:1", "relay-b:65535", "b:7"])
def test_a_redirect_round_trips_through_the_deframer(address: str) -> None:
    frames = Deframer().feed(routing.redirect(address))
    assert frames == [(routing.REDIRECT, address.encode())]
    assert routing.parse_redirect(frames[0][1]) == address


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"host",
        b"host:",
        b":7200",
        b"host:0",
        b"host:65536",
        b"host:72a0",
        b"::1:7200",
        b"[]:7200",
        b"ho st:7200",
        b"host\n:7200",
        b"h\xc3\xa9:7200",
        b"a" * 251 + b":7200",
    ],
)
def test_a_malformed_redirect_is_a_frame_error(body: bytes) -> None:
    with pytest.raises(FrameError) as info:
        routing.parse_redirect(body)
    assert info.value.reason is Reason.BAD_FRAME
    with pytest.raises(ValueError, match="node address"):
        routing.redirect(body.decode("ascii", "replace"))


def test_version_two_is_for_join_meet_and_reattach_only() -> None:
    join = routing.take_frame(bytearray(routing.join_request("42", routing.REDIRECT_VERSION)), 64)
    assert join == (routing.JOIN, b"\x0242")
    assert routing.parse_request(*join) == routing.Request(routing.JOIN, nameplate="42", version=2)
    assert routing.parse_request(*join).follows_redirect
    assert not routing.parse_request(routing.JOIN, b"\x0142").follows_redirect
    meet = routing.parse_request(routing.MEET, b"\x02" + NAME)
    assert (meet.kind, meet.name, meet.version) == (routing.MEET, NAME, 2)
    reattach = routing.parse_request(routing.REATTACH, b"\x02" + NAME)
    assert (reattach.kind, reattach.token, reattach.version) == (routing.REATTACH, NAME, 2)
    assert routing.meet_request(NAME, 2)[4] == routing.reattach_request(NAME, 2)[4] == 2
    for ftype, body in ((routing.OPEN, b"\x02"), (routing.ACCEPT, b"\x02" + NAME + b"\0\0\0\1")):
        with pytest.raises(FrameError) as info:
            routing.parse_request(ftype, body)
        assert info.value.reason is Reason.BAD_FRAME
    for ftype, body in ((routing.JOIN, b"\x037"), (routing.MEET, b"\x00" + NAME)):
        with pytest.raises(FrameError):
            routing.parse_request(ftype, body)
    with pytest.raises(ValueError, match="not 1 or 2"):
        routing.join_request("7", 3)


def test_the_cluster_reasons_have_their_numbers_and_words() -> None:
    assert (Reason.ELSEWHERE, Reason.ELSEWHERE.label) == (19, "elsewhere")
    assert int(Reason.DIRECTORY_UNAVAILABLE) == 20
    assert Reason.DIRECTORY_UNAVAILABLE.label == "directory-unavailable"
    wire = routing.close(Reason.DIRECTORY_UNAVAILABLE, 2)
    assert routing.parse_close(wire[routing.HEADER :]) == (Reason.DIRECTORY_UNAVAILABLE, 2)
