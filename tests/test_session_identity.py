"""Identity keys in the sessions, over in-memory links: recognised once, routed, verified.

The key a peer proved in the handshake is handed to the session as
``peer_key`` (here: made up), with ``Identities`` over a real contacts file
in ``tmp_path``. Checked: a joiner's session says what the contacts make of
its host's key just before ``Connected`` (``PeerIdentity``), ``/verify ok``
makes it a verified contact that the next chat knows, ``/verify forget``
drops it; an older peer is ``NO_IDENTITY``; the host recognises each member
before announcing it, and the room hub passes every member's key to every
other member (``MemberKey``), so each member's ``/who`` shows fingerprints
and whether *it* verified them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from polling import until
from test_room_session import Rules

from confide.app import contacts as contacts_module
from confide.app.chat import ChatSession
from confide.app.contacts import CHANGED, KNOWN, NEW, NO_IDENTITY, RENAMED, Contacts
from confide.app.events import (
    AppEvent,
    Connected,
    MemberJoined,
    MessageIn,
    PeerIdentity,
    TransferOffered,
    TransferRef,
)
from confide.app.identities import Identities
from confide.app.link import LinkDown, LinkUp, memory_link_pair
from confide.app.room import RoomHub
from confide.app.room_session import NewMember, RoomSpec
from confide.errors import EXIT_OK, ContactsError
from confide.protocol import messages as m
from confide.protocol.identity import fingerprint
from confide.ui import room_text, transfer_text
from confide.ui.commands import Verify

ALICE = bytes([1]) * 32
BOB = bytes([2]) * 32
CAROL = bytes([3]) * 32
MALLORY = bytes([4]) * 32
NOW = 1_700_000_000.0


def me(path: Path, key: bytes = BOB) -> Identities:
    """Our identities over the contacts file at ``path`` (a fixed clock)."""
    return Identities(key, Contacts.load(path), clock=lambda: NOW)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


async def one_to_one(
    ids: Identities, peer_key: bytes, host_nick: str = "alice", *, verify: bool = True
) -> list[AppEvent]:
    """A joiner ``bob`` meets a 1:1 host ``host_nick`` (it greets with its nick).

    Then ``/verify ok`` (with ``verify``) and the host leaves.
    """
    ours, theirs = memory_link_pair()
    events: list[AppEvent] = []
    session = ChatSession(ours, "bob", ("s",), events.append, peer_key=peer_key, identities=ids)
    task = asyncio.create_task(session.run())
    theirs.send(m.Nick(host_nick))
    await until(lambda: any(isinstance(e, Connected) for e in events), "connected")
    views = session.who()
    host_view = next(v for v in views if v.is_host)
    assert host_view.fingerprint == (fingerprint(peer_key) if peer_key else "")
    assert session.whoami() == fingerprint(ids.key)
    if verify:
        session.mark_verified(None, True)
        assert session.who()[0].known is (True if peer_key else None)
    theirs.send(m.Bye("bye"))
    assert await asyncio.wait_for(task, 2) == EXIT_OK
    return events


def identities_of(events: list[AppEvent]) -> list[PeerIdentity]:
    return [e for e in events if isinstance(e, PeerIdentity)]


def test_a_new_key_is_told_before_connected_then_verified_it_is_known_next_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "contacts.json"

    async def scenario() -> None:
        first = await one_to_one(me(path), ALICE)
        told = identities_of(first)
        assert [(e.nick, e.recognition.kind) for e in told] == [("alice", NEW)]
        assert first.index(told[0]) + 1 == first.index(Connected("alice", ("s",)))
        again = identities_of(await one_to_one(me(path), ALICE))
        assert [(e.nick, e.recognition.kind) for e in again] == [("alice", KNOWN)]
        renamed = identities_of(await one_to_one(me(path), ALICE, "alicia", verify=False))
        assert [(e.recognition.kind, e.recognition.verified_nick) for e in renamed] == [
            (RENAMED, "alice")
        ]
        changed = identities_of(await one_to_one(me(path), MALLORY, verify=False))
        assert [(e.nick, e.recognition.kind) for e in changed] == [("alice", CHANGED)]

    run(scenario)


def test_an_older_peer_proves_no_identity_and_verify_forget_drops_a_contact(
    tmp_path: Path,
) -> None:
    path = tmp_path / "contacts.json"

    async def scenario() -> None:
        old = identities_of(await one_to_one(me(path), b""))
        assert [(e.nick, e.recognition.kind) for e in old] == [("alice", NO_IDENTITY)]
        assert Contacts.load(path).entries() == []
        await one_to_one(me(path), ALICE)
        assert Contacts.load(path).is_verified(ALICE)
        ours, theirs = memory_link_pair()
        ignored: list[AppEvent] = []
        session = ChatSession(
            ours, "bob", ("s",), ignored.append, peer_key=ALICE, identities=me(path)
        )
        task = asyncio.create_task(session.run())
        theirs.send(m.Nick("alice"))
        await until(lambda: session.core.connected, "connected")
        answer = room_text.verify(session, Verify(ok=False, forget=True))
        assert answer.lines == ("you unmarked alice: SAS not compared yet and forgot their key",)
        assert not Contacts.load(path).is_verified(ALICE)
        theirs.send(m.Bye("bye"))
        await asyncio.wait_for(task, 2)

    run(scenario)


def test_an_offer_says_whether_its_sender_is_a_verified_contact(tmp_path: Path) -> None:
    ids = me(tmp_path / "contacts.json")
    ids.verify(ALICE, "alice")

    async def scenario() -> None:
        ours, theirs = memory_link_pair()
        events: list[AppEvent] = []
        session = ChatSession(ours, "bob", ("s",), events.append, peer_key=ALICE, identities=ids)
        task = asyncio.create_task(session.run())
        theirs.send(m.Welcome("bob", "alice", ["alice", "bob"]))
        theirs.send(m.FileOffer(1, "", "photo.jpg", 2100, [""], [2100], ["file"], [""]))
        await until(lambda: any(isinstance(e, TransferOffered) for e in events), "the offer")
        offer = next(e for e in events if isinstance(e, TransferOffered))
        assert offer.verified is True
        assert transfer_text.event_text(offer) == (
            "alice (verified) offers photo.jpg (2.1 kB): /accept or /decline"
        )
        theirs.send(m.Closed("closed"))
        await asyncio.wait_for(task, 2)

    run(scenario)
    ref = TransferRef("alice", 1, True, "photo.jpg", 2100)
    unverified = transfer_text.event_text(TransferOffered(ref, verified=False))
    assert unverified == "alice (not verified) offers photo.jpg (2.1 kB): /accept or /decline"
    plain = transfer_text.event_text(TransferOffered(ref))
    assert plain == "alice offers photo.jpg (2.1 kB): /accept or /decline"


def test_the_hub_passes_each_members_key_to_every_other_member() -> None:
    hub = RoomHub("alice", now=lambda: datetime(2026, 1, 1))
    hub.add(1, ("s",), BOB)
    hub.receive(1, m.Nick("bob"))
    hub.add(2, ("t",), CAROL)
    hub.receive(2, m.Nick("carol"))
    hub.add(3, ("u",), b"")  # an older confide: it proves none
    hub.receive(3, m.Nick("dave"))
    hub.add(4, ("v",))  # not known (a driver without identities): never passed on
    hub.receive(4, m.Nick("erin"))
    sent = [(d.to, d.message) for d in hub.take().deliveries if isinstance(d.message, m.MemberKey)]
    assert sent == [
        ((2,), m.MemberKey("bob", BOB)),  # after Welcome, to the new member
        ((1,), m.MemberKey("carol", CAROL)),  # after Joined, to those already there
        ((3,), m.MemberKey("bob", BOB)),
        ((3,), m.MemberKey("carol", CAROL)),
        ((1, 2), m.MemberKey("dave", b"")),
        ((4,), m.MemberKey("bob", BOB)),
        ((4,), m.MemberKey("carol", CAROL)),
        ((4,), m.MemberKey("dave", b"")),
    ]
    assert hub.key_of(2) == CAROL
    assert hub.key_of(4) is None


def test_a_room_host_recognises_each_member_and_members_see_each_others_keys(
    tmp_path: Path,
) -> None:
    host_ids = Identities(ALICE, Contacts.load(tmp_path / "alice.json"), clock=lambda: NOW)
    bob_ids = me(tmp_path / "bob.json", BOB)
    bob_ids.verify(CAROL, "carol")  # bob compared his SAS with carol in an earlier chat
    carol_ids = me(tmp_path / "carol.json", CAROL)

    async def scenario() -> None:
        arrivals: asyncio.Queue[NewMember] = asyncio.Queue()
        bob_host, bob_end = memory_link_pair()
        carol_host, carol_end = memory_link_pair()
        host_events: list[AppEvent] = []
        spec = RoomSpec(
            "alice", NewMember(bob_host, ("s",), BOB), Rules(), arrivals.get, identities=host_ids
        )
        host = spec.session(host_events.append)
        bob_events: list[AppEvent] = []
        carol_events: list[AppEvent] = []
        bob = ChatSession(
            bob_end, "bob", ("s",), bob_events.append, peer_key=ALICE, identities=bob_ids
        )
        carol = ChatSession(
            carol_end, "carol", ("t",), carol_events.append, peer_key=ALICE, identities=carol_ids
        )
        tasks = [asyncio.create_task(s.run()) for s in (host, bob, carol)]
        await until(lambda: Connected("alice", ("s",)) in bob_events, "bob connected")
        arrivals.put_nowait(NewMember(carol_host, ("t",), CAROL))
        await until(lambda: any(isinstance(e, PeerIdentity) for e in carol_events[1:]), "keys")
        await until(
            lambda: any(isinstance(e, PeerIdentity) and e.via_host for e in bob_events), "carol"
        )
        # the host: each member recognised just before it is announced
        told = [e for e in host_events if isinstance(e, PeerIdentity | Connected | MemberJoined)]
        assert [type(e).__name__ for e in told] == [
            "PeerIdentity",
            "Connected",
            "PeerIdentity",
            "MemberJoined",
        ]
        assert [(e.nick, e.recognition.kind) for e in told if isinstance(e, PeerIdentity)] == [
            ("bob", NEW),
            ("carol", NEW),
        ]
        # bob verified carol before: known, through the host
        via = [e for e in bob_events if isinstance(e, PeerIdentity) and e.via_host]
        assert [(e.nick, e.recognition.kind) for e in via] == [("carol", KNOWN)]
        bob_view = {v.nick: v for v in bob.who()}
        assert bob_view["carol"].fingerprint == fingerprint(CAROL)
        assert bob_view["carol"].known is True
        assert bob_view["alice"].known is False
        await until(lambda: "bob" in {v.nick for v in carol.who()}, "carol sees bob")
        await until(lambda: carol.who()[1].fingerprint != "", "bob's key reaches carol")
        carol_view = {v.nick: v for v in carol.who()}
        assert carol_view["bob"].fingerprint == fingerprint(BOB)
        assert carol_view["bob"].known is False
        lines = room_text.who_lines(carol)
        key = f"key {fingerprint(BOB)} (not verified by you)"
        assert f"  bob: vouched for by the host only · {key}" in lines
        # the host verifies carol: stored as a contact of the host's
        host.mark_verified("carol", True)
        assert Contacts.load(tmp_path / "alice.json").is_verified(CAROL)
        assert {v.nick: v.known for v in host.who()}["carol"] is True
        await host.leave()
        for task in tasks:
            assert await asyncio.wait_for(task, 2) == EXIT_OK

    run(scenario)


def test_a_resumed_link_recognises_nothing_again(tmp_path: Path) -> None:
    ids = me(tmp_path / "contacts.json")

    async def scenario() -> None:
        ours, theirs = memory_link_pair()
        events: list[AppEvent] = []
        session = ChatSession(ours, "bob", ("s",), events.append, peer_key=ALICE, identities=ids)
        task = asyncio.create_task(session.run())
        theirs.send(m.Nick("alice"))
        await until(lambda: any(isinstance(e, Connected) for e in events), "connected")
        theirs.send(LinkDown("connection lost"))  # what a resumable link hands up
        theirs.send(LinkUp())
        theirs.send(m.Chat(1, "still here"))
        await until(lambda: any(isinstance(e, MessageIn) for e in events), "the line")
        assert len([e for e in events if isinstance(e, PeerIdentity)]) == 1
        assert [e.first_seen for e in ids.contacts.entries()] == [NOW]
        theirs.send(m.Bye("bye"))
        await asyncio.wait_for(task, 2)

    run(scenario)


def test_a_contacts_file_that_cannot_be_written_still_recognises_a_changed_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = me(tmp_path / "contacts.json")
    ids.verify(ALICE, "alice")

    def full_disk(path: Path, data: bytes) -> None:
        raise ContactsError(f"cannot write contacts file {path}: no space left on device")

    monkeypatch.setattr(contacts_module, "write_atomically", full_disk)
    assert ids.recognise(MALLORY, "alice").kind == CHANGED
    assert ids.recognise(ALICE, "alice").kind == KNOWN
    assert ids.recognise(ALICE, "alicia").kind == RENAMED
    assert ids.recognise(CAROL, "carol").kind == NEW
