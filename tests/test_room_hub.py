"""Unit tests of ``confide.app.room.RoomHub``: the pure hub of a room, without sockets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from roomsim import WHEN, Peer, Sim, now

from confide.app.events import (
    Delivered,
    DeliveredAll,
    MemberJoined,
    MemberLeft,
    MemberRenamed,
    MembersChanged,
    MessageIn,
    MessageOut,
    NickSet,
    PrivateIn,
    PrivateOut,
)
from confide.app.room import (
    HOST_ID,
    MAX_BACKLOG_BYTES,
    MAX_MEMBERS,
    MAX_TEXT,
    MAX_UNACKED,
    Hangup,
    RoomHub,
)
from confide.app.room_member import RoomMember
from confide.errors import UsageError
from confide.protocol import messages as m


def three() -> tuple[Sim, int, int]:
    """alice hosts; bob and carol joined."""
    sim = Sim("alice")
    return sim, sim.join("bob"), sim.join("carol")


def test_three_members_chat_through_the_hub() -> None:
    sim, bob, carol = three()
    sim.send(bob, m.Chat(1, "hi from bob"))
    sim.hub.say("hi from alice")
    sim.flow()
    sim.send(carol, m.Action(1, "waves"))
    assert [(s.sender, s.text, s.kind) for s in sim.said(bob)] == [
        ("alice", "hi from alice", "chat"),
        ("carol", "waves", "action"),
    ]
    assert [(s.sender, s.text) for s in sim.said(carol)] == [
        ("bob", "hi from bob"),
        ("alice", "hi from alice"),
    ]
    assert sim.host(MessageIn) == [
        MessageIn("bob", "hi from bob", WHEN, 1),
        MessageIn("carol", "waves", WHEN, 3, action=True),
    ]
    assert sim.host(MessageOut) == [MessageOut("alice", "hi from alice", WHEN, 1)]


def test_the_sender_is_stamped_by_the_hub_and_cannot_be_spoofed() -> None:
    sim, bob, carol = three()
    for message in (
        m.Chat(1, "x"),
        m.Action(2, "x"),
        m.Said(3, "carol", "I am carol", "chat"),
        m.Welcome("carol", "carol", ["carol"]),
        m.Renamed("carol", "bob"),
        m.Left("carol", "kicked"),
        m.Joined("carol"),
        m.Closed("closed"),
        m.AllHave(1),
    ):
        sim.send(bob, message)
    assert {s.sender for s in sim.said(carol)} == {"bob"}
    assert [type(x) for x in sim.peers[carol].received[1:] if not isinstance(x, m.Said)] == []
    assert sim.hub.nicks() == ("alice", "bob", "carol")
    assert all(e.nick == "bob" for e in sim.host(MessageIn) if isinstance(e, MessageIn))


def test_a_clash_at_join_gets_a_free_variant_and_is_told() -> None:
    sim, bob, _ = three()
    bob2 = sim.join("BOB")
    assert sim.hub.nicks() == ("alice", "bob", "carol", "BOB2")
    welcome, notice = sim.peers[bob2].received[:2]
    assert welcome == m.Welcome("BOB2", "alice", ["alice", "bob", "carol", "BOB2"])
    assert notice == m.Notice("nick 'BOB' is taken here; you are 'BOB2'")
    assert sim.join("bob2")
    assert sim.hub.nicks()[-1] == "bob22"
    assert m.Joined("BOB2") in sim.peers[bob].received
    assert sim.join("alice")
    assert sim.hub.nicks()[-1] == "alice2"


def test_a_variant_of_a_long_nick_still_fits() -> None:
    sim = Sim("x" * m.MAX_NICK)
    sim.join("x" * m.MAX_NICK)
    assert sim.hub.nicks()[-1] == "x" * (m.MAX_NICK - 1) + "2"


def test_a_clash_at_nick_is_refused_with_a_clear_message() -> None:
    sim, bob, carol = three()
    sim.send(bob, m.Nick("Carol"))
    sim.send(bob, m.Nick("al:ce"))
    assert sim.peers[bob].received[-2:] == [
        m.Notice("nick 'Carol' is taken here"),
        m.Notice("a nick can't contain ':': 'al?ce'"),
    ]
    assert sim.hub.nicks() == ("alice", "bob", "carol")
    sim.send(bob, m.Nick("Bob"))  # its own nick in another case is fine
    assert m.Renamed("bob", "Bob") in sim.peers[carol].received
    assert sim.host(MemberRenamed) == [MemberRenamed("bob", "Bob")]
    with pytest.raises(UsageError, match="taken"):
        sim.hub.rename("CAROL")
    assert sim.hub.rename("al") == "al"
    sim.flow()
    assert m.Renamed("alice", "al") in sim.peers[bob].received
    assert NickSet("alice", "al") in sim.host_events


def test_joins_and_leaves_are_announced_to_everyone() -> None:
    sim, bob, carol = three()
    dave = sim.join("dave")
    sim.send(dave, m.Bye("bye"))
    sim.hub.remove(carol, "connection lost")
    sim.flow()
    assert sim.peers[bob].received[1:] == [
        m.Joined("carol"),
        m.Joined("dave"),
        m.Left("dave", "left"),
        m.Left("carol", "connection lost"),
    ]
    assert sim.host(MemberJoined) == [
        MemberJoined("bob", ("sas",)),
        MemberJoined("carol", ("sas",)),
        MemberJoined("dave", ("sas",)),
    ]
    assert sim.host(MemberLeft) == [
        MemberLeft("dave", "left"),
        MemberLeft("carol", "connection lost"),
    ]
    assert sim.host(MembersChanged)[-1] == MembersChanged(("alice", "bob"))
    assert sim.peers[dave].hung_up == Hangup(dave, flush=True)


def test_private_goes_to_one_member_only() -> None:
    sim, bob, carol = three()
    dave = sim.join("dave")
    sim.send(bob, m.Private(1, "CAROL", "psst"))
    assert sim.said(carol) == [m.Said(1, "bob", "psst", "private")]
    assert sim.said(dave) == []
    assert sim.host(PrivateIn) == []
    sim.send(bob, m.Private(2, "alice", "to the host"))
    assert sim.host(PrivateIn) == [PrivateIn("bob", "to the host", WHEN, 2)]
    assert sim.hub.private("dave", "hi dave") == 1
    sim.flow()
    assert sim.said(dave) == [m.Said(3, "alice", "hi dave", "private")]
    assert sim.host(PrivateOut) == [PrivateOut("dave", "hi dave", WHEN, 1)]
    assert sim.said(bob) == []


def test_private_to_no_one_is_an_error_for_the_sender_only() -> None:
    sim, bob, carol = three()
    sim.send(bob, m.Private(1, "zed", "psst"))
    sim.send(bob, m.Private(2, "bob", "me"))
    assert sim.peers[bob].received[-2:] == [
        m.Notice("no one called 'zed' here"),
        m.Notice("that is you"),
    ]
    assert sim.said(carol) == []
    with pytest.raises(UsageError, match="no one called 'zed' here"):
        sim.hub.private("zed", "x")


def test_kick_is_for_the_host_only() -> None:
    sim, bob, carol = three()
    for attempt in (m.Left("carol", "kicked"), m.Closed("kicked"), m.Unknown("kick")):
        sim.send(bob, attempt)
    assert sim.hub.nicks() == ("alice", "bob", "carol")
    sim.hub.kick("carol")
    sim.flow()
    assert sim.peers[carol].received[-1] == m.Closed("kicked")
    assert sim.peers[carol].hung_up == Hangup(carol, flush=True)
    assert sim.peers[bob].received[-1] == m.Left("carol", "kicked")
    assert sim.hub.nicks() == ("alice", "bob")
    with pytest.raises(UsageError, match="no one called"):
        sim.hub.kick("carol")
    with pytest.raises(UsageError, match="yourself"):
        sim.hub.kick("alice")


def test_close_tells_everyone_and_hangs_up() -> None:
    sim, bob, carol = three()
    sim.hub.close()
    sim.flow()
    for mid in (bob, carol):
        assert sim.peers[mid].received[-1] == m.Closed("closed")
        assert sim.peers[mid].hung_up == Hangup(mid, flush=True)
    assert sim.hub.nicks() == ("alice",)
    with pytest.raises(UsageError, match="closed"):
        sim.hub.say("anyone?")
    with pytest.raises(UsageError, match="the room is closed"):
        sim.hub.add(9)


def test_receipts_a_member_line() -> None:
    sim, bob, carol = three()
    sim.stalled.add(carol)
    sim.send(bob, m.Chat(5, "hi"))
    assert sim.peers[bob].received[-1] == m.Receipt(5)  # ✓: the host has it
    sim.stalled.clear()
    sim.flow()
    assert sim.peers[bob].received[-1] == m.AllHave(5)  # ✓✓: carol has it too


def test_a_room_of_two_gets_no_all_have() -> None:
    sim = Sim("alice")
    bob = sim.join("bob")
    sim.send(bob, m.Chat(1, "hi"))
    sim.send(bob, m.Private(2, "alice", "psst"))
    assert sim.peers[bob].received[1:] == [m.Receipt(1), m.Receipt(2)]
    sim.hub.say("hello")
    sim.flow()
    assert sim.host(Delivered) == [Delivered(1)]
    assert sim.host(DeliveredAll) == []


def test_a_member_joining_later_or_leaving_does_not_hold_up_all_have() -> None:
    sim, bob, carol = three()
    dave = sim.join("dave")
    sim.stalled |= {carol, dave}
    sim.send(bob, m.Chat(1, "one"))
    erin = sim.join("erin")  # joins after: not waited for
    assert sim.said(erin) == []
    sim.stalled.discard(carol)
    sim.flow()
    assert m.AllHave(1) not in sim.peers[bob].received  # dave has not acked
    sim.hub.remove(dave)
    sim.flow()
    assert sim.peers[bob].received[-2:] == [m.Left("dave", "connection lost"), m.AllHave(1)]


def test_no_all_have_when_every_receiver_left_before_acking() -> None:
    sim, bob, carol = three()
    sim.stalled.add(carol)
    sim.send(bob, m.Chat(1, "one"))
    sim.hub.remove(carol)
    sim.flow()
    assert m.AllHave(1) not in sim.peers[bob].received


def test_host_receipts_first_ack_then_all() -> None:
    sim, _bob, carol = three()
    sim.stalled.add(carol)
    mid = sim.hub.say("hello")
    sim.flow()
    assert sim.host(Delivered) == [Delivered(mid)]
    assert sim.host(DeliveredAll) == []
    assert sim.hub.waiting_for(mid) == ("carol",)
    sim.stalled.clear()
    sim.flow()
    assert sim.host(Delivered) == [Delivered(mid)]
    assert sim.host(DeliveredAll) == [DeliveredAll(mid)]
    assert sim.hub.waiting_for(mid) == ()


def test_a_receipt_for_what_was_not_sent_to_it_is_ignored() -> None:
    sim, bob, carol = three()
    sim.stalled.add(carol)
    sim.send(bob, m.Chat(1, "one"))
    sim.send(bob, m.Receipt(1))  # bob acks its own line's seq: it was never sent to bob
    sim.send(bob, m.Receipt(99))
    assert m.AllHave(1) not in sim.peers[bob].received


def test_a_member_that_stops_acking_is_dropped_without_stalling_others() -> None:
    sim, bob, carol = three()
    sim.stalled.add(carol)
    for n in range(MAX_UNACKED):
        sim.hub.receive(bob, m.Chat(n, f"line {n}"))
    assert sim.hub.who()[2].unacked == MAX_UNACKED  # at the bound: still in
    sim.hub.receive(bob, m.Chat(MAX_UNACKED, "one more"))
    sim.flow()
    assert sim.peers[carol].hung_up == Hangup(carol, flush=False)
    assert sim.peers[bob].received[-2:] == [
        m.Receipt(MAX_UNACKED),
        m.Left("carol", "dropped: too slow"),
    ]
    assert not any(isinstance(x, m.AllHave) for x in sim.peers[bob].received)  # carol had none
    assert MemberLeft("carol", "dropped: too slow") in sim.host_events
    assert sim.hub.nicks() == ("alice", "bob")
    sim.hub.say("still here")
    sim.flow()
    assert sim.said(bob)[-1].text == "still here"


def test_the_driver_backlog_bound_drops_a_member() -> None:
    sim, bob, carol = three()
    sim.hub.backlog(carol, MAX_BACKLOG_BYTES)
    sim.flow()
    assert sim.hub.nicks() == ("alice", "bob", "carol")
    sim.hub.backlog(carol, MAX_BACKLOG_BYTES + 1)
    sim.flow()
    assert sim.peers[carol].hung_up == Hangup(carol, flush=False)
    assert sim.peers[bob].received[-1] == m.Left("carol", "dropped: too slow")


def test_a_line_too_long_to_stamp_is_refused() -> None:
    sim, bob, carol = three()
    sim.send(bob, m.Chat(1, "x" * (MAX_TEXT + 1)))
    assert sim.peers[bob].received[-1] == m.Notice(f"message too long (at most {MAX_TEXT} bytes)")
    with pytest.raises(UsageError, match="too long"):
        sim.hub.say("x" * (MAX_TEXT + 1))
    sim.send(bob, m.Chat(2, "x" * MAX_TEXT + ""))
    assert sim.said(carol)[-1].text == "x" * MAX_TEXT  # the stamped copy still encodes


def test_the_first_message_must_be_a_nick_or_the_member_is_peer() -> None:
    sim = Sim("alice")
    sim.peers[1] = Peer(RoomMember("x", (), now=now))
    sim.hub.add(1)
    sim.hub.receive(1, m.Chat(1, "hi"))
    sim.flow()
    assert sim.hub.nicks() == ("alice", "peer")
    assert sim.host(MessageIn) == [MessageIn("peer", "hi", WHEN, 1)]


def test_ping_is_answered() -> None:
    sim, bob, _ = three()
    sim.send(bob, m.Ping(4))
    assert sim.peers[bob].received[-1] == m.Pong(4)


def test_fifty_members() -> None:
    sim = Sim("alice", max_members=MAX_MEMBERS)
    ids = [sim.join(f"m{n}") for n in range(MAX_MEMBERS - 1)]
    assert sim.hub.full()
    with pytest.raises(UsageError, match="room full"):
        sim.hub.add(999)
    for mid in ids:
        sim.send(mid, m.Chat(1, f"from {mid}"))
    for mid in ids:
        assert len(sim.said(mid)) == MAX_MEMBERS - 2
        assert sim.peers[mid].received.count(m.AllHave(1)) == 1
    assert len(sim.host(MessageIn)) == MAX_MEMBERS - 1
    assert [i.is_host for i in sim.hub.who()].count(True) == 1
    assert sim.hub.who()[0].member_id == HOST_ID


def test_room_size_is_checked() -> None:
    for size in (1, MAX_MEMBERS + 1):
        with pytest.raises(UsageError, match="2 to 50"):
            RoomHub("alice", max_members=size, now=now)
    sim = Sim("alice", max_members=2)
    sim.join("bob")
    assert sim.hub.full()


@settings(max_examples=60, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.sampled_from(["chat", "action", "private", "nick"])),
        max_size=40,
    )
)
def test_every_member_sees_the_same_order(script: list[tuple[int, str]]) -> None:
    sim = Sim("alice")
    ids = [sim.join(n) for n in ("bob", "carol", "dave", "erin")]
    for n, (who, what) in enumerate(script):
        if who == 0:
            if what == "private":
                sim.hub.private(sim.hub.who()[1].nick, f"p{n}")
            else:
                sim.hub.say(f"l{n}")
            sim.flow()
            continue
        mid = ids[who - 1]
        message: m.Message = {
            "chat": m.Chat(n, f"l{n}"),
            "action": m.Action(n, f"l{n}"),
            "private": m.Private(n, sim.hub.who()[2].nick, f"p{n}"),
            "nick": m.Nick(f"n{n}"),
        }[what]
        sim.send(mid, message)
    public = [[(s.seq, s.text) for s in sim.said(mid) if s.kind != "private"] for mid in ids]
    everyone = sorted({line for lines in public for line in lines})
    for mid, lines in zip(ids, public, strict=True):
        own = {f"l{n}" for n, (who, _) in enumerate(script) if who and ids[who - 1] == mid}
        assert lines == [line for line in everyone if line[1] not in own]
    for mid in ids:
        seqs = [s.seq for s in sim.said(mid)]
        assert seqs == sorted(set(seqs))


NICKS = st.sampled_from(["alice", "dave", "ALICE", "Dave", "bob", "x", "", "a:b"])
TEXT = st.one_of(NICKS, st.text(max_size=8))
INTS = st.integers(0, 6)
ANY_MESSAGE = st.one_of(
    st.builds(m.Chat, INTS, TEXT),
    st.builds(m.Action, INTS, TEXT),
    st.builds(m.Private, INTS, NICKS, TEXT),
    st.builds(m.Nick, NICKS),
    st.builds(m.Typing, st.booleans()),
    st.builds(m.Receipt, INTS),
    st.builds(m.Ping, INTS),
    st.builds(m.Pong, INTS),
    st.builds(m.Welcome, NICKS, NICKS, st.lists(NICKS, max_size=3)),
    st.builds(m.Said, INTS, NICKS, TEXT, st.sampled_from(["chat", "action", "private"])),
    st.builds(m.Joined, NICKS),
    st.builds(m.Left, NICKS, TEXT),
    st.builds(m.Renamed, NICKS, NICKS),
    st.builds(m.AllHave, INTS),
    st.builds(m.Notice, TEXT),
    st.builds(m.Closed, TEXT),
)


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.tuples(st.booleans(), ANY_MESSAGE), max_size=30))
def test_no_member_message_speaks_for_or_removes_another(
    script: list[tuple[bool, m.Message]],
) -> None:
    sim = Sim("alice")
    bob, carol, dave = sim.join("bob"), sim.join("carol"), sim.join("dave")
    for from_bob, message in script:
        sim.send(bob if from_bob else carol, message)
    nicks = sim.hub.nicks()
    assert nicks[0] == "alice"
    assert "dave" in nicks
    for said in sim.said(dave):
        assert not m.same_nick(said.sender, "alice")
        assert not m.same_nick(said.sender, "dave")
    for x in sim.peers[dave].received:
        assert not isinstance(x, m.Closed)
        if isinstance(x, m.Left):
            assert x.nick not in ("alice", "dave")
        if isinstance(x, m.Renamed):
            assert x.old not in ("alice", "dave")
    assert sim.peers[dave].hung_up is None


def test_one_receipt_acks_every_earlier_line_it_owes() -> None:
    from confide.app.room_receipts import Receipts, Settled

    receipts = Receipts()
    for seq in (1, 2, 3):  # three lines from member 1, each to members 2 and 3
        receipts.sent(seq, 1, seq * 10, (2, 3), want_all=True)
    assert receipts.acked(2, 2) == (
        Settled(1, 10, first=True, all=False),
        Settled(1, 20, first=True, all=False),
    )
    assert receipts.owed(2) == 1
    assert receipts.acked(3, 3) == (
        Settled(1, 10, first=False, all=True),
        Settled(1, 20, first=False, all=True),
        Settled(1, 30, first=True, all=False),
    )
    assert receipts.acked(3, 3) == ()  # nothing left to ack
    assert receipts.acked(2, 1) == ()  # an old receipt changes nothing
    assert receipts.acked(2, 3) == (Settled(1, 30, first=False, all=True),)
    assert receipts.owed(2) == receipts.owed(3) == 0
