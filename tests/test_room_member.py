"""Unit tests of ``confide.app.room_member.RoomMember``: host messages to a joiner's app events."""

from __future__ import annotations

import pytest
from roomsim import WHEN, Sim, now

from confide.app.events import (
    Connected,
    Delivered,
    DeliveredAll,
    MemberJoined,
    MemberLeft,
    MemberRenamed,
    MembersChanged,
    MessageIn,
    NickSet,
    Notice,
    PeerNick,
    PeerTyping,
    PrivateIn,
    RoomClosed,
)
from confide.app.room_member import RoomMember
from confide.errors import UsageError
from confide.protocol import messages as m


def test_a_room_of_two_looks_like_a_one_to_one_chat() -> None:
    sim = Sim("alice")
    bob = sim.join("bob", sas=("apple", "pear"))
    sim.hub.say("hi bob")
    sim.flow()
    sim.send(bob, m.Chat(1, "hi alice"))
    sim.hub.rename("al")
    sim.flow()
    assert sim.peers[bob].events == [
        Connected("alice", ("apple", "pear")),
        MessageIn("alice", "hi bob", WHEN, 1),
        Delivered(1),
        PeerNick("alice", "al"),
    ]


def test_three_members_see_each_other() -> None:
    sim = Sim("alice")
    bob = sim.join("bob")
    carol = sim.join("carol")
    sim.send(carol, m.Chat(1, "hi"))
    assert sim.peers[bob].events[1:] == [
        MemberJoined("carol"),
        MembersChanged(("alice", "bob", "carol")),
        MessageIn("carol", "hi", WHEN, 1),
    ]
    assert sim.peers[carol].events == [
        Connected("alice", ("sas",)),
        MembersChanged(("alice", "bob", "carol")),
        Delivered(1),
        DeliveredAll(1),
    ]
    assert sim.peers[carol].member.members == ["alice", "bob", "carol"]


def test_a_taken_nick_at_join_is_told_and_set() -> None:
    sim = Sim("alice")
    sim.join("bob")
    other = sim.join("Bob")
    assert sim.peers[other].events[:4] == [
        Connected("alice", ("sas",)),
        NickSet("Bob", "Bob2"),
        MembersChanged(("alice", "bob", "Bob2")),
        Notice("nick 'Bob' is taken here; you are 'Bob2'"),
    ]
    assert sim.peers[other].member.nick == "Bob2"


def test_renames_leaves_and_private() -> None:
    sim = Sim("alice")
    bob = sim.join("bob")
    carol = sim.join("carol")
    sim.send(bob, m.Nick("robert"))
    sim.send(carol, m.Private(1, "robert", "psst"))
    sim.send(carol, m.Nick("robert"))
    sim.send(bob, m.Bye("bye"))
    assert sim.events(bob, NickSet) == [NickSet("bob", "robert")]
    assert sim.events(bob, PrivateIn) == [PrivateIn("carol", "psst", WHEN, 1)]
    assert sim.events(carol, MemberRenamed) == [MemberRenamed("bob", "robert")]
    assert sim.events(carol, Notice) == [Notice("nick 'robert' is taken here")]
    assert sim.events(carol, MemberLeft) == [MemberLeft("robert", "left")]
    assert sim.peers[carol].member.members == ["alice", "carol"]


def test_closed_and_kicked_end_the_session() -> None:
    sim = Sim("alice")
    bob = sim.join("bob")
    carol = sim.join("carol")
    sim.hub.kick("bob")
    sim.flow()
    assert sim.events(bob, RoomClosed) == [RoomClosed("you were kicked by the host")]
    sim.hub.close()
    sim.flow()
    assert sim.events(carol, RoomClosed) == [RoomClosed("the host closed the room")]
    member = RoomMember("x", (), now=now)
    member.handle(m.Welcome("x", "h", ["h", "x"]))
    step = member.handle(m.Closed("maintenance"))
    assert step.ended
    assert step.events == [RoomClosed("the host ended your session: maintenance")]


def test_a_said_line_is_acked_and_a_ping_answered() -> None:
    member = RoomMember("bob", (), now=now)
    assert member.handle(m.Said(1, "alice", "too early", "chat")).events == []
    member.handle(m.Welcome("bob", "alice", ["alice", "bob"]))
    step = member.handle(m.Said(4, "alice", "hi", "emote"))  # a kind from a newer host
    assert step.events == [MessageIn("alice", "hi", WHEN, 4)]
    assert step.replies == [m.Receipt(4)]
    assert member.handle(m.Ping(2)).replies == [m.Pong(2)]
    assert not step.ended


def test_nicks_from_the_host_are_cleaned_and_never_look_like_ours() -> None:
    member = RoomMember("bob", (), now=now)
    member.handle(m.Welcome("bob", "al\x1b[2Jice", ["al\x1b[2Jice", "bob"]))
    assert member.host == "al?[2Jice"
    step = member.handle(m.Said(1, "BOB", "I am you", "chat"))
    assert step.events == [MessageIn("BOB~2", "I am you", WHEN, 1)]
    step = member.handle(m.Said(2, "x:y", "colon", "action"))
    assert step.events == [MessageIn("x?y", "colon", WHEN, 2, action=True)]


def test_checks_before_sending() -> None:
    member = RoomMember("bob", (), now=now)
    member.handle(m.Welcome("bob", "alice", ["alice", "bob", "carol"]))
    assert member.private(3, "Carol", "psst") == m.Private(3, "Carol", "psst")
    with pytest.raises(UsageError, match="no one called 'dave' here"):
        member.private(3, "dave", "psst")
    with pytest.raises(UsageError, match="that is you"):
        member.private(3, "BOB", "psst")
    with pytest.raises(UsageError, match="only the host"):
        member.kick("carol")
    assert member.who() == [
        ("alice", "host: compare your SAS with them"),
        ("bob", "you"),
        ("carol", "vouched for by the host only"),
    ]


def test_typing_in_a_room_of_two_is_the_one_to_one_opt_in() -> None:
    sim = Sim("alice", typing=True)
    bob = sim.join("bob", typing=True)
    assert sim.peers[bob].events == [Connected("alice", ("sas",)), PeerTyping("alice", False)]
    assert sim.peers[bob].member.someone_types
    sim.hub.typing(True)
    sim.flow()
    sim.send(bob, m.Typing(on=True))
    assert sim.peers[bob].events[-1] == PeerTyping("alice", True)
    assert sim.host_events[-1] == PeerTyping("bob", True)


def test_typing_reaches_only_members_that_opted_in() -> None:
    sim = Sim("alice")
    bob = sim.join("bob", typing=True)
    dave = sim.join("dave")
    carol = sim.join("carol", typing=True)
    assert sim.peers[bob].received[-1] == m.Typist("carol", False)  # they learn of each other
    assert sim.peers[carol].received[-1] == m.Typist("bob", False)
    sim.send(bob, m.Typing(on=True))
    assert sim.events(carol, PeerTyping) == [PeerTyping("bob", False), PeerTyping("bob", True)]
    assert not any(isinstance(x, m.Typist) for x in sim.peers[dave].received)
    assert not sim.peers[dave].member.someone_types
    sim.hub.typing(True)  # the host did not opt in: nothing goes, nothing shows
    sim.flow()
    assert m.Typist("alice", True) not in sim.peers[carol].received
    assert sim.host(PeerTyping) == []
