"""``ChatCore``, the chat logic without I/O: messages in, events and messages out.

No socket, no event loop, no CPace: each test feeds messages and reads the
two outboxes. Time is a fake clock and a fixed ``now``.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from confide.app.core import OWN_EVENTS, ChatCore
from confide.app.events import (
    AppEvent,
    Connected,
    Delivered,
    Latency,
    MessageIn,
    MessageOut,
    NickSet,
    PeerAway,
    PeerBack,
    PeerLeft,
    PeerNick,
    PeerTyping,
    PrivateOut,
)
from confide.app.link import LinkDown, LinkUp
from confide.errors import UsageError
from confide.protocol import messages as m

SAS = ("apple", "river", "stone", "cloud", "lamp")
NOW = datetime(2026, 12, 5, 9, 30)


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def make(nick: str = "alice", *, typing: bool = False, clock: FakeClock | None = None) -> ChatCore:
    return ChatCore(nick, SAS, clock=clock or FakeClock(), now=lambda: NOW, typing_enabled=typing)


def connected(
    nick: str = "alice", peer: str = "bob", *, typing: bool = False, clock: FakeClock | None = None
) -> ChatCore:
    """A core that has greeted and heard the peer's nick, with empty outboxes."""
    core = make(nick, typing=typing, clock=clock)
    core.greet()
    core.receive(m.Nick(peer))
    core.messages_to_send()
    core.events_to_emit()
    return core


def step(core: ChatCore, message: m.Message) -> tuple[list[AppEvent], list[m.Message]]:
    core.receive(message)
    return core.events_to_emit(), core.messages_to_send()


# -- starting -------------------------------------------------------------


def test_greeting_is_our_nick_only() -> None:
    core = make("alice")
    assert core.messages_to_send() == []  # nothing before greet
    core.greet()
    assert core.messages_to_send() == [m.Nick("alice")]
    assert core.events_to_emit() == []


def test_greeting_announces_typing_when_enabled() -> None:
    core = make("alice", typing=True)
    core.greet()
    assert core.messages_to_send() == [m.Nick("alice"), m.Typing(False)]


def test_our_nick_is_cleaned_when_given() -> None:
    assert make("a:b\x07").nick == "a?b?"


def test_the_peers_nick_first_connects_and_names_it() -> None:
    core = make()
    assert not core.connected
    assert step(core, m.Nick("bob")) == ([Connected("bob", SAS)], [])
    assert core.connected
    assert core.peer_nick == "bob"


def test_a_first_message_that_is_not_a_nick_connects_and_counts() -> None:
    core = make()
    events, sent = step(core, m.Chat(1, "hi"))
    assert events == [Connected("peer", SAS), MessageIn("peer", "hi", NOW, 1)]
    assert sent == [m.Receipt(1)]


def test_a_received_nick_is_cleaned() -> None:
    core = make()
    step(core, m.Nick("  ev\x1bil:nick  "))
    assert core.peer_nick == "ev?il?nick"


# -- chat, actions, receipts -----------------------------------------------


def test_chat_is_shown_with_now_and_acknowledged() -> None:
    core = connected()
    assert step(core, m.Chat(7, "hello")) == (
        [MessageIn("bob", "hello", NOW, 7)],
        [m.Receipt(7)],
    )


def test_an_action_is_shown_as_one() -> None:
    core = connected()
    assert step(core, m.Action(3, "waves")) == (
        [MessageIn("bob", "waves", NOW, 3, action=True)],
        [m.Receipt(3)],
    )


def test_a_private_message_is_shown_as_chat() -> None:
    core = connected()
    events, sent = step(core, m.Private(4, "alice", "psst"))
    assert events == [MessageIn("bob", "psst", NOW, 4)]
    assert sent == [m.Receipt(4)]


def test_a_receipt_means_delivered() -> None:
    core = connected()
    assert step(core, m.Receipt(2)) == ([Delivered(2)], [])


def test_the_injected_now_is_stamped_on_both_directions() -> None:
    times = iter([datetime(2026, 1, 1, 1, 1), datetime(2026, 2, 2, 2, 2)])
    core = ChatCore("alice", SAS, clock=FakeClock(), now=lambda: next(times))
    core.receive(m.Nick("bob"))
    core.events_to_emit()
    core.receive(m.Chat(1, "in"))
    core.say("out")
    incoming, outgoing = core.events_to_emit()
    assert isinstance(incoming, MessageIn)
    assert incoming.when == datetime(2026, 1, 1, 1, 1)
    assert isinstance(outgoing, MessageOut)
    assert outgoing.when == datetime(2026, 2, 2, 2, 2)


def test_say_and_act_number_their_messages() -> None:
    core = connected()
    assert core.say("one") == 1
    assert core.act("two") == 2
    assert core.messages_to_send() == [m.Chat(1, "one"), m.Action(2, "two")]
    assert core.events_to_emit() == [
        MessageOut("alice", "one", NOW, 1),
        MessageOut("alice", "two", NOW, 2, action=True),
    ]


def test_own_events_are_the_ones_only_observers_see() -> None:
    assert set(OWN_EVENTS) == {MessageOut, NickSet, PrivateOut}


# -- nicks -----------------------------------------------------------------


def test_the_peer_renames() -> None:
    core = connected()
    assert step(core, m.Nick("robert")) == ([PeerNick("bob", "robert")], [])
    assert core.peer_nick == "robert"


def test_a_peer_nick_like_ours_is_shown_with_a_mark() -> None:
    core = connected("alice", "ALICE")
    assert core.peer_nick == "ALICE~2"
    assert step(core, m.Nick("bob")) == ([PeerNick("ALICE~2", "bob")], [])


def test_a_peer_renaming_to_our_nick_gets_the_mark() -> None:
    core = connected("alice", "bob")
    assert step(core, m.Nick("Alice")) == ([PeerNick("bob", "Alice~2")], [])


def test_rename_sends_our_new_nick() -> None:
    core = connected()
    assert core.rename("alicia") == "alicia"
    assert core.nick == "alicia"
    assert core.messages_to_send() == [m.Nick("alicia")]
    assert core.events_to_emit() == [NickSet("alice", "alicia")]


@pytest.mark.parametrize("bad", ["", "a:b", "x" * (m.MAX_NICK + 1), " lead", "bell\x07"])
def test_rename_refuses_what_nick_problem_names(bad: str) -> None:
    core = connected()
    with pytest.raises(UsageError):
        core.rename(bad)
    assert core.nick == "alice"
    assert core.messages_to_send() == []
    assert core.events_to_emit() == []


def test_rename_refuses_the_peers_nick_once_connected() -> None:
    core = connected("alice", "bob")
    with pytest.raises(UsageError, match="your peer's nick"):
        core.rename("BOB")
    assert core.nick == "alice"
    assert core.messages_to_send() == []


def test_rename_before_connecting_only_checks_the_nick() -> None:
    core = make()
    assert core.rename("peer") == "peer"  # the placeholder is nobody's nick yet


# -- typing ------------------------------------------------------------------


def test_typing_needs_both_sides() -> None:
    core = connected(typing=True)
    core.typing(True)
    assert core.messages_to_send() == []  # the peer did not opt in yet
    assert step(core, m.Typing(False)) == ([PeerTyping("bob", False)], [])
    assert core.peer_typing_enabled
    core.typing(True)
    assert core.messages_to_send() == [m.Typing(True)]


def test_typing_is_neither_sent_nor_shown_unless_we_enabled_it() -> None:
    core = connected(typing=False)
    assert step(core, m.Typing(True)) == ([], [])
    assert core.peer_typing_enabled  # noted, but we did not opt in
    core.typing(True)
    assert core.messages_to_send() == []


# -- ping and pong -------------------------------------------------------------


def test_a_ping_is_answered() -> None:
    core = connected()
    assert step(core, m.Ping(5)) == ([], [m.Pong(5)])


def test_pong_gives_the_latency_by_the_injected_clock() -> None:
    clock = FakeClock()
    core = connected(clock=clock)
    assert core.ping() == 1
    assert core.messages_to_send() == [m.Ping(1)]
    clock.t += 0.042
    events, _ = step(core, m.Pong(1))
    assert len(events) == 1
    assert isinstance(events[0], Latency)
    assert events[0].ms == pytest.approx(42)
    assert step(core, m.Pong(1)) == ([], [])  # answered once only


def test_an_unknown_or_forgotten_pong_is_ignored() -> None:
    clock = FakeClock()
    core = connected(clock=clock)
    assert step(core, m.Pong(99)) == ([], [])
    for _ in range(9):
        core.ping()
    assert len(core.messages_to_send()) == 9
    assert step(core, m.Pong(1)) == ([], [])  # only the last eight are kept
    assert len(step(core, m.Pong(2))[0]) == 1


# -- goodbye and the rest ----------------------------------------------------------


def test_bye_ends_the_chat() -> None:
    core = connected()
    assert not core.over
    assert step(core, m.Bye("gotta go")) == ([PeerLeft("bob", "gotta go")], [])
    assert core.over
    assert step(core, m.Chat(9, "late")) == ([], [])  # nothing counts after goodbye


def test_leave_queues_our_goodbye() -> None:
    core = connected()
    core.leave("bye all")
    assert core.messages_to_send() == [m.Bye("bye all")]
    assert not core.over  # over is the peer's goodbye; ours ends the session in the driver


@pytest.mark.parametrize("message", [m.Joined("x"), m.Unknown("future")])
def test_messages_a_chat_does_not_know_are_ignored(message: m.Message) -> None:
    core = connected()
    assert step(core, message) == ([], [])
    assert not core.over


def test_to_a_room_host_one_receipt_acks_a_burst_of_lines() -> None:
    core = make("bob")
    core.greet()
    core.messages_to_send()
    core.receive(m.Welcome("bob", "alice", ["alice", "carol", "bob"]))
    for seq in (4, 5, 6):
        core.receive(m.Said(seq, "carol", f"line {seq}", "chat"))
    core.receive(m.Ping(9))
    assert core.messages_to_send() == [m.Receipt(6), m.Pong(9)]  # 6 stands for 4 and 5 too
    core.receive(m.Said(7, "alice", "one more", "chat"))
    assert core.messages_to_send() == [m.Receipt(7)]


def test_a_one_to_one_peer_still_gets_a_receipt_per_message() -> None:
    core = connected()
    core.receive(m.Chat(1, "a"))
    core.receive(m.Chat(2, "b"))
    assert core.messages_to_send() == [m.Receipt(1), m.Receipt(2)]


def test_a_lost_link_and_its_return_are_told_with_the_peers_nick() -> None:
    core = connected()
    events, out = step(core, LinkDown("no answer for 10 s"))
    assert events == [PeerAway("bob", "no answer for 10 s")]
    assert out == []
    assert core.away
    events, out = step(core, LinkUp())
    assert events == [PeerBack("bob")]
    assert out == []
    assert not core.away


def test_a_link_lost_before_the_peers_nick_does_not_count_as_connected() -> None:
    core = make()
    core.greet()
    events, _ = step(core, LinkDown("connection lost: reset"))
    assert events == [PeerAway("peer", "connection lost: reset")]
    assert not core.connected
