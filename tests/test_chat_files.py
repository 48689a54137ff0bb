"""Files in a chat: ``/send``, ``/accept``, ``/decline``, ``/cancel`` through real sessions.

The host runs a ``RoomSession`` and each joiner a ``ChatSession``, joined by
in-memory links (no socket, no CPace), with the real transfer engine
writing real files into each side's own downloads folder. A room of two
reads as a 1:1 chat; in a room of three the host forwards member ↔ member
file messages like ``/msg``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from polling import until

from confide.app.chat import ChatSession
from confide.app.events import (
    AppEvent,
    Connected,
    TransferDone,
    TransferFailed,
    TransferOffered,
    TransferStarted,
)
from confide.app.link import memory_link_pair
from confide.app.room_files import FileRoutes
from confide.app.room_session import NewMember, RoomSession, RoomSpec
from confide.errors import RoomClosedError, UsageError
from confide.protocol import messages as m


@dataclass
class Rules:
    """A room policy stand-in."""

    def member_left(self) -> None:
        pass

    def code_text(self) -> str | None:
        return None


@dataclass
class Side:
    """One person in the chat: its session, the events its UI got, its downloads."""

    session: ChatSession | RoomSession
    folder: Path
    events: list[AppEvent] = field(default_factory=list)

    def of(self, kind: type[AppEvent]) -> list[AppEvent]:
        return [e for e in self.events if isinstance(e, kind)]


@dataclass
class Chat:
    """A host and its joiners, running."""

    host: Side
    joiners: dict[str, Side]
    arrivals: asyncio.Queue[NewMember | None]
    tasks: list[asyncio.Task[int]] = field(default_factory=list)

    def join(self, nick: str, tmp: Path) -> Side:
        host_end, joiner_end = memory_link_pair()
        folder = tmp / nick
        events: list[AppEvent] = []
        session = ChatSession(joiner_end, nick, ("sas",), events.append, downloads=folder)
        side = Side(session, folder, events)
        self.joiners[nick] = side
        self.tasks.append(asyncio.create_task(session.run()))
        self.arrivals.put_nowait(NewMember(host_end, (nick, "sas")))
        return side


async def open_chat(tmp: Path, *nicks: str) -> Chat:
    """``alice`` hosts; ``nicks`` join in order; returns once everyone saw everyone."""
    arrivals: asyncio.Queue[NewMember | None] = asyncio.Queue()

    async def arrive() -> NewMember:
        member = await arrivals.get()
        if member is None:
            raise RoomClosedError("closed")
        return member

    first_host_end, first_end = memory_link_pair()
    folder = tmp / "alice"
    events: list[AppEvent] = []
    spec = RoomSpec(
        "alice", NewMember(first_host_end, (nicks[0], "sas")), Rules(), arrive, downloads=folder
    )
    host = spec.session(events.append)
    chat = Chat(Side(host, folder, events), {}, arrivals)
    chat.tasks.append(asyncio.create_task(host.run()))
    first_events: list[AppEvent] = []
    first = ChatSession(
        first_end, nicks[0], ("sas",), first_events.append, downloads=tmp / nicks[0]
    )
    chat.joiners[nicks[0]] = Side(first, tmp / nicks[0], first_events)
    chat.tasks.append(asyncio.create_task(first.run()))
    for nick in nicks[1:]:
        chat.join(nick, tmp)
    await until(lambda: len(host.hub.nicks()) == len(nicks) + 1, "everyone in the room")
    for side in chat.joiners.values():
        await until(lambda: side.of(Connected), "the joiner connected")  # noqa: B023 - awaited here
        assert isinstance(side.session, ChatSession)
        room = side.session.core.room
        assert room is not None
        members = room.members
        await until(lambda: len(members) == len(nicks) + 1, "the joiner sees all")  # noqa: B023
    return chat


async def close(chat: Chat) -> None:
    await chat.host.session.leave()
    for task in chat.tasks:
        async with asyncio.timeout(5):
            await task


def run(tmp: Path, nicks: tuple[str, ...], body: Callable[[Chat], Awaitable[None]]) -> None:
    async def scenario() -> None:
        chat = await open_chat(tmp, *nicks)
        try:
            await body(chat)
        finally:
            await close(chat)

    asyncio.run(scenario())


def a_file(tmp: Path, name: str = "photo.jpg", size: int = 300_000) -> Path:
    path = tmp / "out" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


async def done(side: Side, what: str = "the transfer to finish") -> TransferDone:
    await until(lambda: side.of(TransferDone) or side.of(TransferFailed), what)
    failed = side.of(TransferFailed)
    assert not failed, failed
    event = side.of(TransferDone)[-1]
    assert isinstance(event, TransferDone)
    return event


def test_a_joiner_sends_the_host_a_file_in_a_chat_of_two(tmp_path: Path) -> None:
    source = a_file(tmp_path)

    async def body(chat: Chat) -> None:
        bob, alice = chat.joiners["bob"], chat.host
        bob.session.send_file(str(source))
        await until(lambda: alice.of(TransferOffered), "the offer at the host")
        offer = alice.of(TransferOffered)[0]
        assert isinstance(offer, TransferOffered)
        assert (offer.ref.peer, offer.ref.name, offer.ref.size) == ("bob", "photo.jpg", 300_000)
        assert [r.name for r in alice.session.file_offers()] == ["photo.jpg"]
        assert not alice.folder.exists()  # nothing is written before accepting
        alice.session.accept_file()
        got = await done(alice)
        assert Path(got.path) == alice.folder / "photo.jpg"
        assert Path(got.path).read_bytes() == source.read_bytes()
        sent = await done(bob)
        assert sent.ref.peer == "alice"  # the host, by its nick

    run(tmp_path, ("bob",), body)


def test_the_host_sends_a_joiner_a_file_and_chat_goes_on(tmp_path: Path) -> None:
    source = a_file(tmp_path, size=2_000_000)

    async def body(chat: Chat) -> None:
        bob, alice = chat.joiners["bob"], chat.host
        alice.session.send_file(str(source))
        await until(lambda: bob.of(TransferOffered), "the offer at bob")
        offer = bob.of(TransferOffered)[0]
        assert isinstance(offer, TransferOffered)
        assert offer.ref.peer == "alice"
        assert offer.ref.incoming
        bob.session.accept_file("photo.jpg")
        alice.session.say("still here")
        got = await done(bob)
        assert Path(got.path).read_bytes() == source.read_bytes()
        assert bob.of(TransferStarted)

    run(tmp_path, ("bob",), body)


def test_send_nick_path_goes_member_to_member_through_the_host(tmp_path: Path) -> None:
    source = a_file(tmp_path, size=1_500_000)

    async def body(chat: Chat) -> None:
        bob, carol, alice = chat.joiners["bob"], chat.joiners["carol"], chat.host
        carol.session.send_file(str(source), "bob")
        await until(lambda: bob.of(TransferOffered), "the offer at bob")
        offer = bob.of(TransferOffered)[0]
        assert isinstance(offer, TransferOffered)
        assert offer.ref.peer == "carol"
        bob.session.accept_file()
        got = await done(bob)
        assert Path(got.path).read_bytes() == source.read_bytes()
        assert (await done(carol)).ref.peer == "bob"
        assert not alice.of(TransferOffered)  # the host only passed it on
        assert not alice.folder.exists()

    run(tmp_path, ("bob", "carol"), body)


def test_a_room_wide_offer_gives_each_member_who_accepts_a_stream(tmp_path: Path) -> None:
    source = a_file(tmp_path, size=700_000)

    async def body(chat: Chat) -> None:
        bob, carol, alice = chat.joiners["bob"], chat.joiners["carol"], chat.host
        refs = carol.session.send_file(str(source))
        assert [r.peer for r in refs] == ["everyone"]
        await until(lambda: bob.of(TransferOffered) and alice.of(TransferOffered), "the offers")
        bob.session.accept_file()
        alice.session.accept_file()
        for side in (bob, alice):
            got = await done(side)
            assert Path(got.path).read_bytes() == source.read_bytes()
        await until(lambda: len(carol.of(TransferDone)) == 2, "two streams done at carol")
        assert sorted(e.ref.peer for e in carol.of(TransferDone)) == ["alice", "bob"]  # type: ignore[attr-defined]

    run(tmp_path, ("bob", "carol"), body)


def test_decline_tells_the_sender(tmp_path: Path) -> None:
    source = a_file(tmp_path)

    async def body(chat: Chat) -> None:
        bob, alice = chat.joiners["bob"], chat.host
        alice.session.send_file(str(source), "bob")
        await until(lambda: bob.of(TransferOffered), "the offer at bob")
        bob.session.decline_file()
        await until(lambda: alice.of(TransferFailed), "the decline at alice")
        failed = alice.of(TransferFailed)[0]
        assert isinstance(failed, TransferFailed)
        assert failed.reason == "declined"
        assert failed.ref.peer == "bob"
        assert not bob.folder.exists()

    run(tmp_path, ("bob",), body)


def test_accept_by_name_among_several_offers(tmp_path: Path) -> None:
    first, second = a_file(tmp_path, "a.txt", 1000), a_file(tmp_path, "b.txt", 2000)

    async def body(chat: Chat) -> None:
        bob, alice = chat.joiners["bob"], chat.host
        alice.session.send_file(str(first))
        alice.session.send_file(str(second))
        await until(lambda: len(bob.of(TransferOffered)) == 2, "two offers at bob")
        with pytest.raises(UsageError, match=r"several: /accept NAME \(a.txt, b.txt\)"):
            bob.session.accept_file()
        with pytest.raises(UsageError, match=r"no offer to accept called 'c\.txt'"):
            bob.session.accept_file("c.txt")
        bob.session.accept_file("B.TXT")
        got = await done(bob)
        assert Path(got.path).name == "b.txt"
        assert [r.name for r in bob.session.file_offers()] == ["a.txt"]

    run(tmp_path, ("bob",), body)


def test_commands_refuse_what_cannot_be(tmp_path: Path) -> None:
    async def body(chat: Chat) -> None:
        bob, alice = chat.joiners["bob"], chat.host
        with pytest.raises(UsageError, match="no offer to accept"):
            bob.session.accept_file()
        with pytest.raises(UsageError, match="no transfer to cancel"):
            alice.session.cancel_file()
        with pytest.raises(UsageError, match="no one called 'zed' here"):
            bob.session.send_file(str(tmp_path), "zed")
        with pytest.raises(UsageError, match="no one called 'zed' here"):
            alice.session.send_file(str(tmp_path), "zed")
        with pytest.raises(UsageError, match="that is you"):
            alice.session.send_file(str(tmp_path), "alice")
        with pytest.raises(UsageError):
            bob.session.send_file(str(tmp_path / "missing"))

    run(tmp_path, ("bob",), body)


def test_the_host_answers_a_file_message_for_no_one_with_a_cancel(tmp_path: Path) -> None:
    async def body(chat: Chat) -> None:
        sent: list[tuple[int, m.Message]] = []
        host = chat.host.session
        assert isinstance(host, RoomSession)
        routes = FileRoutes(host.hub, lambda: (1,), lambda mid, msg: sent.append((mid, msg)))
        routes.from_member(1, m.FileChunk(7, "zed", 0, b"x"))
        assert sent == [(1, m.FileCancel(7, "zed", "zed is not here"))]
        routes.from_member(1, m.FileCancel(7, "zed", "cancelled"))
        assert len(sent) == 1  # a cancel is never answered

    run(tmp_path, ("bob",), body)


def test_a_member_who_leaves_ends_the_transfers_with_them(tmp_path: Path) -> None:
    source = a_file(tmp_path)

    async def body(chat: Chat) -> None:
        bob, carol, alice = chat.joiners["bob"], chat.joiners["carol"], chat.host
        alice.session.send_file(str(source), "carol")
        carol.session.send_file(str(source), "bob")
        await until(lambda: carol.of(TransferOffered) and bob.of(TransferOffered), "the offers")
        assert [r.peer for r in bob.session.file_offers()] == ["carol"]
        await carol.session.leave()
        await until(lambda: alice.of(TransferFailed), "the host's offer ended")
        failed = alice.of(TransferFailed)[0]
        assert isinstance(failed, TransferFailed)
        assert failed.reason == "carol left"
        await until(lambda: bob.of(TransferFailed), "the forwarded offer ended at bob")
        failed = bob.of(TransferFailed)[0]
        assert isinstance(failed, TransferFailed)
        assert failed.reason == "the sender stopped: carol left"
        assert bob.session.file_offers() == []

    run(tmp_path, ("bob", "carol"), body)


def test_the_hosts_offer_to_a_room_gives_each_member_who_accepts_a_stream(
    tmp_path: Path,
) -> None:
    source = a_file(tmp_path, size=500_000)

    async def body(chat: Chat) -> None:
        bob, carol, alice = chat.joiners["bob"], chat.joiners["carol"], chat.host
        refs = alice.session.send_file(str(source))
        assert [r.peer for r in refs] == ["everyone"]
        await until(lambda: bob.of(TransferOffered) and carol.of(TransferOffered), "the offers")
        bob.session.accept_file()
        carol.session.decline_file()
        got = await done(bob)
        assert Path(got.path).read_bytes() == source.read_bytes()
        await until(lambda: alice.of(TransferDone) and alice.of(TransferFailed), "both answers")
        assert [e.ref.peer for e in alice.of(TransferDone)] == ["bob"]  # type: ignore[attr-defined]
        assert [e.ref.peer for e in alice.of(TransferFailed)] == ["carol"]  # type: ignore[attr-defined]
        assert not carol.folder.exists()

    run(tmp_path, ("bob", "carol"), body)


def test_downloads_default_to_the_platforms_folder(tmp_path: Path) -> None:
    from platformdirs import user_downloads_path

    link, _ = memory_link_pair()
    session = ChatSession(link, "bob", ("sas",), lambda event: None)
    assert session.files.downloads == user_downloads_path()
    chosen = ChatSession(link, "bob", ("sas",), lambda event: None, downloads=tmp_path)
    assert chosen.files.downloads == tmp_path
