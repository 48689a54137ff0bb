"""The chat driver and the in-memory link it is tested over: no socket, no CPace.

``memory_link_pair`` gives two ``Link`` ends joined by queues. The first tests
pin down that it behaves like a real link where the chat relies on it (order,
EOF after a close or half-close, ``ClosedError`` on sending after it). The
rest run two real ``ChatSession`` drivers against each other over it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from polling import until

from confide.app.chat import ChatSession, SessionSpec
from confide.app.events import (
    AppEvent,
    Connected,
    Delivered,
    Disconnected,
    Latency,
    MessageIn,
    MessageOut,
    NickSet,
    PeerLeft,
    PeerNick,
    PeerTyping,
)
from confide.app.link import MemoryLink, memory_link_pair
from confide.errors import EXIT_CONNECT, EXIT_OK, ClosedError, OutboxFullError
from confide.protocol import messages as m


def test_the_memory_pair_delivers_in_order() -> None:
    async def scenario() -> list[m.Message]:
        a, b = memory_link_pair()
        a.send(m.Nick("alice"))
        a.send(m.Chat(1, "hi"))
        await a.drain()
        b.send(m.Receipt(1))
        return [await b.receive(), await b.receive(), await a.receive()]

    assert asyncio.run(scenario()) == [m.Nick("alice"), m.Chat(1, "hi"), m.Receipt(1)]


def test_a_half_close_lets_the_peer_read_what_came_before_then_eof() -> None:
    async def scenario() -> None:
        a, b = memory_link_pair()
        a.send(m.Bye("bye"))
        a.shutdown_write()
        a.shutdown_write()  # twice is harmless
        with pytest.raises(ClosedError):
            a.send(m.Chat(1, "too late"))
        assert await b.receive() == m.Bye("bye")
        with pytest.raises(ClosedError, match="closed by the peer"):
            await b.receive()
        b.send(m.Receipt(1))  # the other direction still works
        assert await a.receive() == m.Receipt(1)

    asyncio.run(scenario())


def test_close_ends_both_ends_receiving() -> None:
    async def scenario() -> None:
        a, b = memory_link_pair()
        waiting = asyncio.create_task(a.receive())
        await asyncio.sleep(0)  # one turn of the loop: the task now waits on the queue
        await a.close()
        with pytest.raises(ClosedError):
            await waiting
        with pytest.raises(ClosedError):
            await b.receive()
        with pytest.raises(ClosedError):
            a.send(m.Chat(1, "x"))
        with pytest.raises(ClosedError):
            await a.drain()
        await a.close()  # twice is harmless
        await b.abort()
        with pytest.raises(ClosedError):
            await b.receive()

    asyncio.run(scenario())


# -- two drivers talking -------------------------------------------------------

SAS = ("apple", "river", "stone", "cloud", "lamp")
NOW = datetime(2026, 12, 5, 9, 30)


@dataclass
class Side:
    """One session, its link, its task, what its UI and its observer saw."""

    session: ChatSession
    link: MemoryLink
    events: list[AppEvent] = field(default_factory=list)
    observed: list[AppEvent] = field(default_factory=list)
    task: asyncio.Task[int] | None = None

    def of(self, kind: type[AppEvent]) -> list[AppEvent]:
        return [e for e in self.events if isinstance(e, kind)]

    async def ended(self) -> int:
        """The exit code ``run`` returned (bounded wait)."""
        assert self.task is not None
        return await asyncio.wait_for(self.task, 5)


def side(
    link: MemoryLink, nick: str, *, typing: bool = False, ping_interval: float | None = None
) -> Side:
    events: list[AppEvent] = []
    observed: list[AppEvent] = []
    session = ChatSession(
        link,
        nick,
        SAS,
        events.append,
        observers=[observed.append],
        now=lambda: NOW,
        typing_enabled=typing,
        ping_interval=ping_interval,
    )
    return Side(session, link, events, observed)


@asynccontextmanager
async def talking(
    *, typing: bool = False, alice_pings: float | None = None
) -> AsyncIterator[tuple[Side, Side]]:
    """Alice and Bob, both running and connected (``alice_pings``: her ping interval)."""
    a_link, b_link = memory_link_pair()
    alice = side(a_link, "alice", typing=typing, ping_interval=alice_pings)
    bob = side(b_link, "bob", typing=typing)
    alice.task = asyncio.create_task(alice.session.run())
    bob.task = asyncio.create_task(bob.session.run())
    try:
        await until(lambda: alice.of(Connected) and bob.of(Connected), "both to connect")
        yield alice, bob
    finally:
        for s in (alice, bob):
            await s.link.close()
            await s.ended()


def test_two_sessions_connect_and_chat_with_receipts() -> None:
    async def scenario() -> None:
        async with talking() as (alice, bob):
            assert alice.of(Connected) == [Connected("bob", SAS)]
            assert alice.session.peer_nick == "bob"
            mid = alice.session.say("hello")
            aid = alice.session.act("waves")
            await until(lambda: len(bob.of(MessageIn)) == 2, "bob to get both")
            assert bob.of(MessageIn) == [
                MessageIn("alice", "hello", NOW, mid),
                MessageIn("alice", "waves", NOW, aid, action=True),
            ]
            await until(lambda: len(alice.of(Delivered)) == 2, "the receipts")
            assert alice.of(Delivered) == [Delivered(mid), Delivered(aid)]
            # what we sent ourselves: the observer sees it, the UI does not
            assert not alice.of(MessageOut)
            assert [e for e in alice.observed if isinstance(e, MessageOut)] == [
                MessageOut("alice", "hello", NOW, mid),
                MessageOut("alice", "waves", NOW, aid, action=True),
            ]
            assert [e for e in alice.observed if not isinstance(e, MessageOut)] == alice.events

    asyncio.run(scenario())


def test_a_rename_reaches_the_peer_and_the_observer() -> None:
    async def scenario() -> None:
        async with talking() as (alice, bob):
            assert alice.session.rename("alicia") == "alicia"
            assert alice.session.nick == "alicia"
            await until(lambda: bob.of(PeerNick), "bob to see the rename")
            assert bob.of(PeerNick) == [PeerNick("alice", "alicia")]
            assert NickSet("alice", "alicia") in alice.observed
            assert not alice.of(NickSet)

    asyncio.run(scenario())


def test_typing_shows_only_when_both_enabled_it() -> None:
    async def scenario() -> None:
        async with talking(typing=True) as (alice, bob):
            await until(lambda: alice.session.peer_typing_enabled, "bob's opt-in")
            alice.session.typing(True)
            await until(lambda: PeerTyping("alice", True) in bob.events, "bob to see it")

    asyncio.run(scenario())


def test_the_ping_timer_measures_latency() -> None:
    async def scenario() -> None:
        async with talking(alice_pings=0.01) as (alice, _bob):
            await until(lambda: alice.of(Latency), "a latency")

    asyncio.run(scenario())


def test_leave_says_goodbye_and_both_end_with_exit_0() -> None:
    async def scenario() -> None:
        async with talking() as (alice, bob):
            alice.session.say("last words")
            await alice.session.leave("gotta go")
            assert await bob.ended() == EXIT_OK
            assert await alice.ended() == EXIT_OK
            assert bob.of(MessageIn)[-1] == MessageIn("alice", "last words", NOW, 1)
            assert bob.of(PeerLeft) == [PeerLeft("alice", "gotta go")]
            assert not alice.of(Disconnected)
            assert alice.link.closed
            assert bob.link.closed
            with pytest.raises(ClosedError):
                alice.session.say("after")

    asyncio.run(scenario())


def test_a_vanished_peer_is_disconnected_with_the_exit_code() -> None:
    async def scenario() -> None:
        async with talking() as (alice, bob):
            await bob.link.abort()  # no goodbye
            assert await alice.ended() == EXIT_CONNECT
            (gone,) = alice.of(Disconnected)
            assert isinstance(gone, Disconnected)
            assert (gone.reason, gone.exit_code) == ("connection closed by the peer", EXIT_CONNECT)
            assert isinstance(gone.error, ClosedError)
            assert gone in alice.observed

    asyncio.run(scenario())


def test_leave_before_run_still_closes() -> None:
    async def scenario() -> None:
        a_link, b_link = memory_link_pair()
        alice = side(a_link, "alice")
        await alice.session.leave()
        assert a_link.closed
        assert await b_link.receive() == m.Bye("bye")

    asyncio.run(scenario())


def test_a_spec_builds_the_session_with_the_uis_sink_and_its_observers() -> None:
    async def scenario() -> None:
        a_link, b_link = memory_link_pair()
        seen: list[AppEvent] = []
        logged: list[AppEvent] = []
        spec = SessionSpec(a_link, "alice", SAS).observed_by(logged.append)
        session = spec.session(seen.append, typing_enabled=True)
        assert session.typing_enabled
        assert (session.nick, session.sas) == ("alice", SAS)
        task = asyncio.create_task(session.run())
        assert await b_link.receive() == m.Nick("alice")
        assert await b_link.receive() == m.Typing(False)  # the opt-in it was built with
        b_link.send(m.Nick("bob"))
        await until(lambda: seen, "the UI's sink to hear of it")
        assert seen == [Connected("bob", SAS)]
        session.say("hi")
        out = logged[-1]
        assert isinstance(out, MessageOut)
        assert (out.nick, out.text, out.id) == ("alice", "hi", 1)
        await b_link.close()
        assert await asyncio.wait_for(task, 5) == EXIT_CONNECT
        assert logged[:1] == seen[:1]

    asyncio.run(scenario())


def test_leave_half_closes_then_reads_until_the_peer_closes() -> None:
    async def scenario() -> None:
        a_link, b_link = memory_link_pair()
        alice = side(a_link, "alice")
        alice.task = asyncio.create_task(alice.session.run())
        assert await b_link.receive() == m.Nick("alice")
        b_link.send(m.Nick("bob"))
        alice.session.say("one")
        assert await b_link.receive() == m.Chat(1, "one")
        leaving = asyncio.create_task(alice.session.leave("done"))
        assert await b_link.receive() == m.Bye("done")
        with pytest.raises(ClosedError, match="closed by the peer"):
            await b_link.receive()  # her half-close: EOF while she still reads
        assert not leaving.done()
        b_link.send(m.Receipt(1))  # so what we still send reaches her
        await until(lambda: alice.of(Delivered), "her to read the late receipt")
        await b_link.close()
        await asyncio.wait_for(leaving, 5)
        assert await alice.ended() == EXIT_OK
        assert a_link.closed

    asyncio.run(scenario())


class FullLink(MemoryLink):
    """A link whose outbox is full: every chat line is refused, nothing is sent."""

    def send(self, message: m.Message) -> None:
        if isinstance(message, m.Chat | m.Receipt):
            raise OutboxFullError(10_000)
        super().send(message)


def test_a_full_outbox_refuses_the_line_and_tells_observers_nothing() -> None:
    async def scenario() -> None:
        a_to_b: asyncio.Queue[object] = asyncio.Queue()
        b_to_a: asyncio.Queue[object] = asyncio.Queue()
        ours, peer = FullLink(b_to_a, a_to_b), MemoryLink(a_to_b, b_to_a)
        seen: list[object] = []
        session = ChatSession(ours, "alice", ("s",), seen.append, observers=(seen.append,))
        with pytest.raises(OutboxFullError, match="10000 messages are waiting"):
            session.say("one too many")
        assert not any(isinstance(e, MessageOut) for e in seen)
        peer.send(m.Chat(1, "hi"))  # our automatic receipt is refused too: no error escapes
        session.core.receive(await ours.receive())
        session._flush()
        assert any(isinstance(e, MessageIn) for e in seen)

    asyncio.run(scenario())
