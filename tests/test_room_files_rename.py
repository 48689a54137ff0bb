"""A room file transfer survives a ``/nick`` of either end, mid-transfer.

Transfers in a room are named by nick on the wire (docs/PROTOCOL.md §12.1):
the host's ``FileRoutes`` finds a recipient by the nick a member addressed,
and each engine keys its transfers by the other end's nick. A rename while
chunks are on their way must change none of that: the file arrives whole
and verified, and the events after the rename name the peer by its new
nick. Real sessions over in-memory links (``test_chat_files``), real
engines writing real files.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from polling import until
from test_chat_files import Chat, Side, a_file, done, run

from confide.app.events import (
    MemberRenamed,
    PeerNick,
    TransferDone,
    TransferFailed,
    TransferOffered,
    TransferProgress,
    TransferStarted,
)
from confide.app.room_files import FileRoutes
from confide.app.room_session import RoomSession
from confide.protocol import messages as m

SIZE = 24 << 20
"""Big enough that the transfer is still running when the renames come."""


def part_of(side: Side) -> Path:
    """The ``.part`` the receiving ``side`` writes to (its ``TransferStarted`` says)."""
    started = side.of(TransferStarted)
    assert started, "the transfer started"
    event = started[-1]
    assert isinstance(event, TransferStarted)
    return Path(event.path)


async def grown(side: Side, past: int, what: str) -> int:
    """Wait until the receiver's ``.part`` holds more than ``past`` bytes; return its size."""

    def size() -> int:
        part = part_of(side)
        return part.stat().st_size if part.exists() else 0

    await until(lambda: size() > past or side.of(TransferDone) or side.of(TransferFailed), what)
    assert not side.of(TransferFailed), side.of(TransferFailed)
    assert not side.of(TransferDone), f"the transfer ended before {what}"
    return size()


async def flowing(sender: Side, receiver: Side, source: Path, to: str, who: str) -> int:
    """``sender`` offers ``source`` to ``to``; ``receiver`` (``who``) accepts: its first bytes."""
    sender.session.send_file(str(source), to)
    await until(lambda: receiver.of(TransferOffered), f"the offer at {who}")
    receiver.session.accept_file()
    await until(lambda: receiver.of(TransferStarted), f"{who} started")
    return await grown(receiver, 0, "the first chunks")


def peers_after(side: Side, kind: type[TransferProgress | TransferDone], index: int) -> set[str]:
    """The peers named by ``side``'s events of ``kind`` from event ``index`` on."""
    return {e.ref.peer for e in side.events[index:] if isinstance(e, kind)}


def test_a_member_to_member_transfer_survives_both_ends_renaming(tmp_path: Path) -> None:
    source = a_file(tmp_path, "big.bin", SIZE)

    async def body(chat: Chat) -> None:
        bob, carol = chat.joiners["bob"], chat.joiners["carol"]
        written = await flowing(carol, bob, source, "bob", "bob")
        carol.session.rename("cara")  # the sender renames
        await until(lambda: bob.of(MemberRenamed), "bob saw the sender's rename")
        seen_sender = len(bob.events)
        written = await grown(bob, written + (1 << 20), "chunks after the sender's rename")
        bob.session.rename("bobby")  # then the receiver
        await until(lambda: carol.of(MemberRenamed), "carol saw the receiver's rename")
        seen_receiver = len(carol.events)
        got = await done(bob)
        assert Path(got.path).read_bytes() == source.read_bytes()
        sent = await done(carol)
        assert sent.ref.peer == "bobby"
        assert got.ref.peer == "cara"
        assert peers_after(bob, TransferProgress, seen_sender) == {"cara"}
        assert peers_after(carol, TransferProgress, seen_receiver) <= {"bobby"}
        assert not chat.host.of(TransferOffered)  # the host only passed it on

    run(tmp_path, ("bob", "carol"), body)


def test_a_member_to_host_transfer_survives_both_ends_renaming(tmp_path: Path) -> None:
    source = a_file(tmp_path, "big.bin", SIZE)

    async def body(chat: Chat) -> None:
        bob, alice = chat.joiners["bob"], chat.host
        written = await flowing(bob, alice, source, "alice", "the host")
        bob.session.rename("bobby")  # the sender renames
        await until(lambda: alice.of(MemberRenamed), "the host saw the rename")
        seen_sender = len(alice.events)
        await grown(alice, written + (1 << 20), "chunks after the sender's rename")
        alice.session.rename("alicia")  # then the receiver, the host
        await until(lambda: bob.of(PeerNick) or bob.of(MemberRenamed), "bob saw the host's")
        seen_receiver = len(bob.events)
        got = await done(alice)
        assert Path(got.path).read_bytes() == source.read_bytes()
        sent = await done(bob)
        assert got.ref.peer == "bobby"
        assert sent.ref.peer == "alicia"
        assert peers_after(alice, TransferProgress, seen_sender) == {"bobby"}
        assert peers_after(bob, TransferProgress, seen_receiver) <= {"alicia"}

    run(tmp_path, ("bob", "carol"), body)


def test_a_host_to_member_transfer_survives_the_member_renaming(tmp_path: Path) -> None:
    source = a_file(tmp_path, "big.bin", SIZE)

    async def body(chat: Chat) -> None:
        bob, alice = chat.joiners["bob"], chat.host
        await flowing(alice, bob, source, "bob", "bob")
        bob.session.rename("bobby")
        got = await done(bob)
        assert Path(got.path).read_bytes() == source.read_bytes()
        sent = await done(alice)
        assert sent.ref.peer == "bobby"
        assert not alice.of(TransferFailed)

    run(tmp_path, ("bob", "carol"), body)


def test_a_late_message_to_an_old_nick_reaches_the_member_it_meant(tmp_path: Path) -> None:
    """The host's routes: the old nick stays an alias, even once another member takes it."""

    async def body(chat: Chat) -> None:
        host = chat.host.session
        assert isinstance(host, RoomSession)
        hub = host.hub
        bob, carol, dave = (hub.member_id(nick) for nick in ("bob", "carol", "dave"))
        assert bob is not None
        assert carol is not None
        assert dave is not None
        sent: list[tuple[int, m.Message]] = []
        routes = FileRoutes(hub, lambda: (bob, carol, dave), lambda to, msg: sent.append((to, msg)))
        offer = m.FileOffer(5, "bob", "f", 1, [""], [1], ["file"], [""])
        routes.from_member(carol, offer)
        assert sent.pop() == (bob, replace(offer, peer="carol"))
        for side, new in ((chat.joiners["bob"], "bobby"), (chat.joiners["dave"], "bob")):
            old = side.session.nick
            side.session.rename(new)
            await until(lambda: hub.nick_of(hub.member_id(new) or 0) == new, "the rename")  # noqa: B023
            routes.renamed(old, new)  # as the session does when the hub reports it
        routes.from_member(carol, m.FileChunk(5, "bob", 0, b"x"))  # sent before carol saw it
        assert sent.pop() == (bob, m.FileChunk(5, "carol", 0, b"x"))
        routes.from_member(carol, m.FileChunk(5, "bobby", 1, b"y"))
        assert sent.pop() == (bob, m.FileChunk(5, "carol", 1, b"y"))
        routes.from_member(carol, replace(offer, id=6))  # a new offer: the bob now here
        assert sent.pop() == (dave, replace(offer, id=6, peer="carol"))
        routes.from_member(dave, m.FileAccept(5, "carol", 0, b""))  # dave has no offer 5
        assert sent.pop() == (carol, m.FileAccept(5, "bob", 0, b""))  # named as dave is now

    run(tmp_path, ("bob", "carol", "dave"), body)


def test_a_member_who_renamed_and_left_still_ends_the_transfers_with_them(tmp_path: Path) -> None:
    source = a_file(tmp_path)

    async def body(chat: Chat) -> None:
        bob, carol = chat.joiners["bob"], chat.joiners["carol"]
        carol.session.send_file(str(source), "bob")
        await until(lambda: bob.of(TransferOffered), "the offer at bob")
        bob.session.rename("bobby")
        await until(lambda: carol.of(MemberRenamed), "carol saw the rename")
        await bob.session.leave()
        await until(lambda: carol.of(TransferFailed), "carol's offer ended")
        failed = carol.of(TransferFailed)[0]
        assert isinstance(failed, TransferFailed)
        assert (failed.ref.peer, failed.reason) == ("bobby", "the receiver stopped it: bobby left")
        assert carol.session.files.active() == []

    run(tmp_path, ("bob", "carol"), body)
