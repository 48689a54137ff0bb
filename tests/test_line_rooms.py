"""Line mode in a room: the texts of room events, and every room command (no network).

Events are fed to ``LineUI`` as a room session would hand them; typed lines
go through ``line._run_line`` against a ``FakeRoom`` (``room_double``).
"""

from __future__ import annotations

import asyncio
import io
from datetime import datetime

from room_double import FakeRoom, views
from roomsim import Sim

from confide.app.events import (
    Connected,
    Delivered,
    DeliveredAll,
    MemberJoined,
    MemberLeft,
    MemberRenamed,
    MembersChanged,
    MessageIn,
    Notice,
    PeerAway,
    PeerBack,
    PrivateIn,
    RoomClosed,
)
from confide.app.room_member import CLOSED_TEXTS
from confide.protocol import messages as m
from confide.ui import line
from confide.ui.line import LineUI

WHEN = datetime(2026, 12, 5, 9, 7)
SAS = ("apple", "brick", "cloud", "delta")


def make_ui() -> tuple[LineUI, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return LineUI(out, err), out, err


def test_room_events_are_status_lines_and_private_messages_go_to_stdout() -> None:
    ui, out, err = make_ui()
    for event in (
        Connected("alice", SAS),
        MembersChanged(("alice", "bob", "carol")),
        MemberJoined("dave"),
        MembersChanged(("alice", "bob", "carol", "dave")),
        MessageIn("carol", "hello all", WHEN, 1),
        PrivateIn("alice", "just you\nand me", WHEN, 2),
        Delivered(3),
        DeliveredAll(3),
        MemberRenamed("carol", "caroline"),
        MemberLeft("dave", "left"),
        MemberLeft("caroline", "kicked"),
        MemberLeft("erin", "dropped: too slow"),
        Notice("nick 'bob' is taken here; you are 'bob2'"),
        RoomClosed("the host closed the room"),
    ):
        ui.on_event(event)
    assert out.getvalue().splitlines()[-3:] == [
        "09:07 carol: hello all",
        "09:07 alice → you: just you",
        "09:07 alice → you: and me",
    ]
    assert err.getvalue().splitlines()[2:] == [
        "dave joined (4 members)",
        "carol is now caroline",
        "dave left",
        "caroline left: kicked",
        "erin left: dropped: too slow",
        "nick 'bob' is taken here; you are 'bob2'",
        "the host closed the room",
    ]


def test_a_room_of_two_looks_like_a_chat_of_two() -> None:
    ui, _, err = make_ui()
    ui.on_event(Connected("bob", SAS))
    ui.on_event(MemberJoined("bob", SAS))  # the host's first member: already "connected to"
    ui.on_event(MembersChanged(("alice", "bob")))
    ui.on_event(MemberLeft("bob", "left"))
    assert err.getvalue().splitlines() == [
        "connected to bob (end-to-end encrypted)",
        "SAS: " + " ".join(SAS),
        "bob left",
    ]


def test_room_nicks_and_notices_are_made_inert() -> None:
    ui, _, err = make_ui()
    ui.on_event(Connected("alice", SAS))
    ui.on_event(MemberJoined("ev\x1b[2Jil"))
    ui.on_event(Notice("bad\x07 news"))
    assert "\x1b" not in err.getvalue()
    assert "\x07" not in err.getvalue()


def run_lines(room: FakeRoom, *typed: str) -> tuple[str, str]:
    ui, out, err = make_ui()

    async def body() -> None:
        for text in typed:
            assert await line._run_line(room, text, ui)

    asyncio.run(body())
    return out.getvalue(), err.getvalue()


def test_msg_sends_privately_and_prints_nothing_on_stdout() -> None:
    room = FakeRoom(members=views("bob", "alice", "bob", "carol", sas=SAS))
    out, err = run_lines(room, "/msg carol see you at 5", "/msg zed hi", "/msg carol")
    assert room.sent == [("private", "carol", "see you at 5")]
    assert out == ""
    assert err.splitlines() == ["not sent: no one called 'zed' here", "usage: /msg NICK TEXT"]


def test_kick_and_code_are_for_the_host() -> None:
    joiner = FakeRoom(members=views("bob", "alice", "bob", sas=SAS))
    _, err = run_lines(joiner, "/kick alice", "/code")
    assert err.splitlines() == ["only the host can /kick", "only the host has the code"]
    host = FakeRoom(nick="alice", is_host=True, members=views("alice", "alice", "bob", sas=SAS))
    _, err = run_lines(host, "/kick bob", "/code")
    assert host.kicked == ["bob"]
    assert err.splitlines() == ["code: 7-tidy-otter (anyone joining with it joins this room)"]
    host.room_code = None
    _, err = run_lines(host, "/code")
    assert "has a password, not a code" in err


def test_who_lists_the_room_as_the_viewer_knows_it() -> None:
    room = FakeRoom(members=views("bob", "alice", "bob", "carol", sas=SAS))
    _, err = run_lines(room, "/who", "/verify ok", "/who")
    first, _, second = err.partition("you marked alice verified for this session\n")
    assert first.splitlines() == [
        "3 members:",
        "  alice (host): SAS apple brick cloud delta, not compared yet (/verify alice)",
        "  bob (you)",
        "  carol: vouched for by the host only",
    ]
    assert "  alice (host): SAS apple brick cloud delta, verified" in second.splitlines()


def test_the_host_verifies_each_member() -> None:
    room = FakeRoom(
        nick="alice", is_host=True, members=views("alice", "alice", "bob", "carol", sas=SAS)
    )
    _, err = run_lines(room, "/verify", "/verify carol", "/verify Carol ok", "/who")
    lines = err.splitlines()
    assert lines[0] == "name the member: /verify NICK (see /who)"
    assert lines[1] == "SAS: " + " ".join(SAS)
    assert "If they match, type /verify carol ok." in lines[2]
    assert lines[3] == "you marked carol verified for this session"
    assert room.marks == {"carol": True}
    assert "  alice (host, you)" in lines
    assert "  carol: SAS apple brick cloud delta, verified" in lines
    assert "  bob: SAS apple brick cloud delta, not compared yet (/verify bob)" in lines
    _, err = run_lines(room, "/verify carol forget", "/verify zed", "/verify alice")
    assert room.marks == {"carol": False}
    assert err.splitlines() == [
        "you unmarked carol: SAS not compared yet",
        "no one called 'zed' here",
        "that is you: compare your SAS with the host",
    ]


def test_a_member_has_no_sas_with_another_member() -> None:
    room = FakeRoom(members=views("bob", "alice", "bob", "carol", sas=SAS))
    _, err = run_lines(room, "/verify carol ok")
    assert room.marks == {}
    assert err.strip() == (
        "you have no SAS with carol: the host vouches for them. "
        "Compare your SAS with alice (/verify)"
    )


def test_help_in_line_mode_lists_the_room_commands() -> None:
    _, err = run_lines(FakeRoom(), "/help")
    for name in ("/msg NICK TEXT", "/kick NICK", "/code", "/verify [NICK] [ok|forget]"):
        assert name in err
    assert "/clear" not in err


def test_the_texts_of_a_real_room_hub_and_its_members() -> None:
    """The events a ``RoomHub`` and its ``RoomMember``s really give, as a member reads them."""
    sim = Sim("alice")
    bob = sim.join("bob")
    carol = sim.join("carol")
    dave = sim.join("bob")  # a clash: joins as bob2
    sim.send(carol, m.Private(1, "bob", "psst"))
    sim.send(carol, m.Chat(2, "hello all"))
    sim.send(carol, m.Nick("caroline"))
    sim.hub.kick("bob2")
    sim.flow()
    ui, out, err = make_ui()
    for event in sim.peers[bob].events:
        ui.on_event(event)
    assert out.getvalue().splitlines() == ["12:00 carol → you: psst", "12:00 carol: hello all"]
    assert err.getvalue().splitlines()[2:] == [
        "carol joined (3 members)",
        "bob2 joined (4 members)",
        "carol is now caroline",
        "bob2 left: kicked",
    ]
    kicked, _, kicked_err = make_ui()
    for event in sim.peers[dave].events:
        kicked.on_event(event)
    assert "nick 'bob' is taken here; you are 'bob2'" in kicked_err.getvalue()
    assert kicked_err.getvalue().splitlines()[-1] == CLOSED_TEXTS["kicked"]


def test_line_mode_tells_a_resume_on_stderr_and_what_waited() -> None:
    room = FakeRoom(members=views("bob", "alice", "bob", sas=SAS))
    ui, out, err = make_ui()

    async def body() -> None:
        ui.on_event(Connected("alice", SAS))
        ui.on_event(PeerAway("alice", "no answer for 10 s"))
        assert await line._run_line(room, "one", ui)
        assert await line._run_line(room, "two", ui)
        ui.on_event(PeerBack("alice"))
        assert await line._run_line(room, "three", ui)
        ui.on_event(PeerAway("alice", "connection lost: reset by peer"))
        ui.on_event(PeerBack("alice"))

    asyncio.run(body())
    assert [s[-1] for s in room.sent] == ["one", "two", "three"]
    assert out.getvalue() == ""
    assert err.getvalue().splitlines()[2:] == [
        "no answer from alice for 10 s; reconnecting…",
        "(your lines wait until alice is back)",
        "alice is back",
        "sent the 2 lines that waited for alice",
        "lost the connection to alice (connection lost: reset by peer); reconnecting…",
        "alice is back",
    ]
