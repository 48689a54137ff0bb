"""The host's room driver over in-memory links: no socket, no CPace.

Each member is the far end of a ``memory_link_pair``, driven by hand with
protocol messages, so every test sees exactly what the host sends each
member and what the host's UI is told.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from polling import until

from confide.app.chat import ChatSession
from confide.app.events import (
    AppEvent,
    Connected,
    Disconnected,
    Latency,
    MemberJoined,
    MemberLeft,
    MessageIn,
    MessageOut,
    Notice,
    PeerAway,
    PeerBack,
    PeerLeft,
    PrivateIn,
    RoomClosed,
)
from confide.app.link import LinkDown, LinkUp, MemoryLink, memory_link_pair
from confide.app.room_session import NewMember, RoomSession, RoomSpec
from confide.app.room_types import MAX_BACKLOG_BYTES, MAX_UNACKED
from confide.app.status import StatusRoute
from confide.errors import (
    EXIT_CONNECT,
    EXIT_OK,
    ClosedError,
    OutboxFullError,
    PeerGoneError,
    RoomClosedError,
    UsageError,
)
from confide.protocol import messages as m


@dataclass
class Rules:
    """A room policy stand-in: counts the places given back."""

    left: int = 0
    code: str | None = "7-purple-sausage"

    def member_left(self) -> None:
        self.left += 1

    def code_text(self) -> str | None:
        return self.code


@dataclass
class Room:
    """A running host session, its UI's events and the member ends."""

    session: RoomSession
    rules: Rules
    arrivals: asyncio.Queue[NewMember | None]
    events: list[AppEvent] = field(default_factory=list)
    seen: list[AppEvent] = field(default_factory=list)
    host_ends: dict[str, MemoryLink] = field(default_factory=dict)

    def member(self, nick: str) -> MemoryLink:
        """A new member that sends its nick first."""
        host_end, member_end = memory_link_pair()
        member_end.send(m.Nick(nick))
        self.host_ends[nick] = host_end
        self.arrivals.put_nowait(NewMember(host_end, (nick, "sas")))
        return member_end


def room(**kwargs: object) -> tuple[Room, MemoryLink]:
    """A room whose first member is ``bob``; more come through ``Room.member``."""
    arrivals: asyncio.Queue[NewMember | None] = asyncio.Queue()
    host_end, bob = memory_link_pair()
    bob.send(m.Nick("bob"))
    rules = Rules()
    events: list[AppEvent] = []
    seen: list[AppEvent] = []

    async def arrive() -> NewMember:
        member = await arrivals.get()
        if member is None:  # a test's way to say: no more joiners can come
            raise RoomClosedError("no more guesses: closed")
        return member

    spec = RoomSpec(
        "alice",
        NewMember(host_end, ("bob", "sas")),
        rules,
        arrive,
        **kwargs,  # type: ignore[arg-type]
    ).observed_by(seen.append)
    session = spec.session(events.append)
    return Room(session, rules, arrivals, events, seen), bob


async def next_of(link: MemoryLink, kind: type[m.Message]) -> m.Message:
    """The next message of ``kind`` the host sent this member (skipping others)."""
    async with asyncio.timeout(1):
        while True:
            message = await link.receive()
            if isinstance(message, kind):
                return message


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def test_three_members_chat_through_the_host_and_a_room_of_two_reads_as_one_to_one() -> None:
    async def scenario() -> None:
        r, bob = room()
        task = asyncio.create_task(r.session.run())
        assert await next_of(bob, m.Welcome) == m.Welcome("bob", "alice", ["alice", "bob"])
        await until(lambda: Connected("bob", ("bob", "sas")) in r.events, "connected")
        carol = r.member("carol")
        await next_of(carol, m.Welcome)
        assert await next_of(bob, m.Joined) == m.Joined("carol")
        await until(lambda: MemberJoined("carol", ("carol", "sas")) in r.events)
        bob.send(m.Chat(1, "hi all"))
        assert await next_of(carol, m.Said) == m.Said(1, "bob", "hi all", "chat")
        assert await next_of(bob, m.Receipt) == m.Receipt(1)
        await until(lambda: any(isinstance(e, MessageIn) for e in r.events))
        mid = r.session.say("hello")
        assert await next_of(bob, m.Said) == m.Said(2, "alice", "hello", "chat")
        assert await next_of(carol, m.Said) == m.Said(2, "alice", "hello", "chat")
        assert not any(isinstance(e, MessageOut) for e in r.events), "observers only"
        assert any(isinstance(e, MessageOut) and e.id == mid for e in r.seen)
        assert [v.nick for v in r.session.who()] == ["alice", "bob", "carol"]
        assert r.session.peer_nick == "bob"
        assert r.session.code() == "7-purple-sausage"
        await r.session.leave()
        assert await task == EXIT_OK

    run(scenario)


def test_the_host_leaving_closes_the_room_for_every_member() -> None:
    async def scenario() -> None:
        r, bob = room()
        task = asyncio.create_task(r.session.run())
        carol = r.member("carol")
        await next_of(carol, m.Welcome)
        await r.session.leave()
        assert await task == EXIT_OK
        for member in (bob, carol):
            assert await next_of(member, m.Closed) == m.Closed("closed")
            with pytest.raises(ClosedError):
                await member.receive()
        assert r.rules.left == 2

    run(scenario)


def test_the_last_member_saying_goodbye_ends_the_host_as_today() -> None:
    async def scenario() -> None:
        r, bob = room()
        task = asyncio.create_task(r.session.run())
        carol = r.member("carol")
        await next_of(carol, m.Welcome)
        carol.send(m.Bye("bye"))
        await carol.close()
        assert await next_of(bob, m.Left) == m.Left("carol", "left")
        await until(lambda: MemberLeft("carol", "left") in r.events)
        assert not task.done(), "one member remains: the room goes on"
        bob.send(m.Bye("later"))
        bob.shutdown_write()
        assert await asyncio.wait_for(task, 1) == EXIT_OK
        assert PeerLeft("bob", "later") in r.events
        assert r.rules.left == 2

    run(scenario)


def test_the_last_member_lost_is_a_disconnect_with_its_exit_code() -> None:
    async def scenario() -> None:
        r, bob = room()
        task = asyncio.create_task(r.session.run())
        await next_of(bob, m.Welcome)
        await bob.close()
        assert await asyncio.wait_for(task, 1) == EXIT_CONNECT
        lost = [e for e in r.events if isinstance(e, Disconnected)]
        assert len(lost) == 1, r.events
        assert isinstance(lost[0].error, ClosedError)

    run(scenario)


def test_a_kicked_member_is_told_and_the_others_see_why() -> None:
    async def scenario() -> None:
        r, bob = room()
        task = asyncio.create_task(r.session.run())
        carol = r.member("carol")
        await next_of(carol, m.Welcome)
        r.session.kick("carol")
        assert await next_of(carol, m.Closed) == m.Closed("kicked")
        assert await next_of(bob, m.Left) == m.Left("carol", "kicked")
        await carol.close()
        with pytest.raises(UsageError):
            r.session.kick("carol")
        await r.session.leave()
        assert await task == EXIT_OK

    run(scenario)


def test_a_member_that_never_acks_is_dropped_and_the_others_go_on() -> None:
    async def scenario() -> None:
        r, bob = room()
        task = asyncio.create_task(r.session.run())
        carol = r.member("carol")
        await next_of(carol, m.Welcome)
        got: list[m.Message] = []
        for n in range(MAX_UNACKED + 1):
            r.session.say(f"line {n}")
            while True:
                got.append(await bob.receive())
                if isinstance(got[-1], m.Said):
                    bob.send(m.Receipt(got[-1].seq))  # bob reads and acks everything
                    await asyncio.sleep(0)  # let the host's reader take it
                    break
        got.append(await next_of(bob, m.Left))
        assert m.Left("carol", "dropped: too slow") in got
        assert sum(isinstance(x, m.Said) for x in got) == MAX_UNACKED + 1
        assert r.session.members == 1
        await r.session.leave()
        assert await task == EXIT_OK

    run(scenario)


def test_a_member_with_too_many_bytes_queued_is_dropped_at_once() -> None:
    async def scenario() -> None:
        r, bob = room()
        task = asyncio.create_task(r.session.run())
        carol = r.member("carol")
        await next_of(carol, m.Welcome)
        r.host_ends["carol"].queued = MAX_BACKLOG_BYTES + 1  # its transport's queue
        r.session.say("one more")
        assert await next_of(bob, m.Left) == m.Left("carol", "dropped: too slow")
        await r.session.leave()
        assert await task == EXIT_OK

    run(scenario)


def test_status_lines_become_notices_while_the_room_runs() -> None:
    async def scenario() -> None:
        printed: list[str] = []
        status = StatusRoute(printed.append)
        r, bob = room(status=status)
        status("before")
        task = asyncio.create_task(r.session.run())
        await next_of(bob, m.Welcome)
        status("code: 8-new-code")
        assert Notice("code: 8-new-code") in r.events
        await r.session.leave()
        await task
        status("after")
        assert printed == ["before", "after"]

    run(scenario)


def test_joiner_sessions_chat_in_a_room_and_are_told_how_it_ends() -> None:
    async def scenario() -> None:
        arrivals: asyncio.Queue[NewMember] = asyncio.Queue()
        bob_host, bob_end = memory_link_pair()
        carol_host, carol_end = memory_link_pair()
        host_events: list[AppEvent] = []
        spec = RoomSpec("alice", NewMember(bob_host, ("s",)), Rules(), arrivals.get)
        host = spec.session(host_events.append)
        bob_events: list[AppEvent] = []
        carol_events: list[AppEvent] = []
        bob = ChatSession(bob_end, "bob", ("s",), bob_events.append)
        carol = ChatSession(carol_end, "bob", ("t",), carol_events.append)  # a clash
        tasks = [asyncio.create_task(s.run()) for s in (host, bob, carol)]
        await until(lambda: Connected("alice", ("s",)) in bob_events)
        arrivals.put_nowait(NewMember(carol_host, ("t",)))
        await until(lambda: carol.nick == "bob2", "carol is told her nick")
        assert Notice("nick 'bob' is taken here; you are 'bob2'") in carol_events
        bob.say("hi")
        await until(lambda: any(isinstance(e, MessageIn) for e in carol_events))
        assert next(e for e in carol_events if isinstance(e, MessageIn)).nick == "bob"
        bob.private("bob2", "psst")
        await until(lambda: any(isinstance(e, PrivateIn) for e in carol_events))
        assert not any(isinstance(e, PrivateIn) for e in host_events)
        with pytest.raises(UsageError, match="only the host"):
            bob.kick("bob2")
        with pytest.raises(UsageError, match="only the host"):
            bob.code()
        assert [(v.nick, v.is_host, v.is_you) for v in bob.who()] == [
            ("alice", True, False),
            ("bob", False, True),
            ("bob2", False, False),
        ]
        host.kick("bob2")
        assert await asyncio.wait_for(tasks[2], 1) == EXIT_OK
        assert RoomClosed("you were kicked by the host") in carol_events
        await until(lambda: MemberLeft("bob2", "kicked") in bob_events)
        await host.leave()
        assert await asyncio.wait_for(tasks[1], 1) == EXIT_OK
        assert RoomClosed("the host closed the room") in bob_events
        assert await tasks[0] == EXIT_OK

    run(scenario)


def test_a_password_room_closed_by_guesses_keeps_its_members_and_says_so() -> None:
    async def scenario() -> None:
        r, bob = room()
        task = asyncio.create_task(r.session.run())
        await next_of(bob, m.Welcome)
        r.arrivals.put_nowait(None)  # the next arrival raises
        await until(lambda: Notice("no more guesses: closed") in r.events)
        bob.send(m.Chat(1, "still here"))
        await until(lambda: any(isinstance(e, MessageIn) for e in r.events))
        await r.session.leave()
        assert await task == EXIT_OK

    run(scenario)


def test_the_host_pings_the_first_member_and_shows_the_round_trip() -> None:
    async def scenario() -> None:
        r, bob = room(ping_interval=0.01)
        task = asyncio.create_task(r.session.run())
        ping = await next_of(bob, m.Ping)
        assert isinstance(ping, m.Ping)
        bob.send(m.Pong(ping.n))
        await until(lambda: any(isinstance(e, Latency) for e in r.events), "a latency")
        await r.session.leave()
        assert await task == EXIT_OK

    run(scenario)


class GoneLink(MemoryLink):
    """A member link whose peer did not come back: ``receive`` raises ``PeerGoneError``."""

    gone = False

    async def receive(self) -> m.Message:
        if self.gone:
            raise PeerGoneError(300)
        return await super().receive()


def test_a_member_away_and_back_is_told_to_the_host_and_touches_nothing_else() -> None:
    async def scenario() -> None:
        r, bob = room()
        task = asyncio.create_task(r.session.run())
        await next_of(bob, m.Welcome)
        bob.send(LinkDown("no answer for 10 s"))  # what its resumable link would hand up
        await until(lambda: any(isinstance(e, PeerAway) for e in r.events))
        assert PeerAway("bob", "no answer for 10 s") in r.events
        r.session.say("still there?")  # goes into bob's link as usual
        assert isinstance(await next_of(bob, m.Said), m.Said)
        bob.send(LinkUp())
        await until(lambda: PeerBack("bob") in r.events)
        assert not any(isinstance(e, MemberLeft | Disconnected) for e in r.events)
        await r.session.leave()
        assert await asyncio.wait_for(task, 2) == EXIT_OK

    run(scenario)


def test_a_member_that_did_not_come_back_ends_a_room_of_two_with_exit_4() -> None:
    async def scenario() -> None:
        a_to_b: asyncio.Queue[object] = asyncio.Queue()
        b_to_a: asyncio.Queue[object] = asyncio.Queue()
        host_end, bob = GoneLink(b_to_a, a_to_b), MemoryLink(a_to_b, b_to_a)
        bob.send(m.Nick("bob"))
        events: list[AppEvent] = []

        async def arrive() -> NewMember:
            await asyncio.Event().wait()
            raise AssertionError("no more members come")

        spec = RoomSpec("alice", NewMember(host_end, ("bob", "sas")), Rules(), arrive)
        session = spec.session(events.append)
        task = asyncio.create_task(session.run())
        await next_of(bob, m.Welcome)
        host_end.gone = True
        bob.send(m.Ping(1))  # wakes the host's reader, which now meets the end of the window
        assert await asyncio.wait_for(task, 2) == EXIT_CONNECT
        ended = [e for e in events if isinstance(e, Disconnected)]
        assert [e.reason for e in ended] == ["bob did not come back within 5 min"], events

    run(scenario)


class FullOutboxLink(MemoryLink):
    """A member link whose outbox is full: the host's lines to it are refused."""

    full = False

    def send(self, message: m.Message) -> None:
        if self.full and isinstance(message, m.Said):
            raise OutboxFullError(10_000)
        super().send(message)


def test_a_member_whose_outbox_overflows_is_dropped_and_the_others_told() -> None:
    async def scenario() -> None:
        r, bob = room()
        task = asyncio.create_task(r.session.run())
        await next_of(bob, m.Welcome)
        a_to_c: asyncio.Queue[object] = asyncio.Queue()
        c_to_a: asyncio.Queue[object] = asyncio.Queue()
        host_end, carol = FullOutboxLink(c_to_a, a_to_c), MemoryLink(a_to_c, c_to_a)
        carol.send(m.Nick("carol"))
        r.arrivals.put_nowait(NewMember(host_end, ("carol", "sas")))
        await next_of(carol, m.Welcome)
        host_end.full = True
        r.session.say("one line too many for carol")
        left = await next_of(bob, m.Left)
        assert left == m.Left("carol", "dropped: too slow")
        assert MemberLeft("carol", "dropped: too slow") in r.events
        await r.session.leave()
        assert await asyncio.wait_for(task, 2) == EXIT_OK

    run(scenario)
