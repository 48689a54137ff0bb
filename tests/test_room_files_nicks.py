"""A file offered by the nick a member sees reaches the one it means, when nicks look alike.

A member addresses a file by the nick its screen shows (docs/PROTOCOL.md
§12.1: the host's ``FileRoutes`` looks that nick up). A member's screen
shows ``NICK~2`` only for a nick that looks like its own
(``RoomMember.shown``), and the host's ``RoomHub`` never lets two nicks in
a room look alike: a joiner asking for a taken nick (the host's, or another
member's in another case) is welcomed under a free variant (``alice2``), and
a rename to a taken nick is refused. So what a member sees is the host's
own nick, and an offer to it, typed in any case, reaches the one it names;
these tests pin that. Real sessions over in-memory links
(``test_chat_files``), real engines writing real files.
"""

from __future__ import annotations

from pathlib import Path

from polling import until
from test_chat_files import Chat, Side, a_file, done, run

from confide.app.chat import ChatSession
from confide.app.events import TransferOffered, TransferProgress
from confide.app.room_session import RoomSession


def shown_room(side: Side) -> tuple[str, str, list[str]]:
    """What a joiner's screen shows: its nick, the host's, and everyone's."""
    session = side.session
    assert isinstance(session, ChatSession)
    room = session.core.room
    assert room is not None
    return room.nick, session.peer_nick, list(room.members)


def offered_by(side: Side) -> str:
    """The sender the receiving ``side``'s first offer names."""
    offers = side.of(TransferOffered)
    assert offers, "an offer arrived"
    offer = offers[0]
    assert isinstance(offer, TransferOffered)
    return offer.ref.peer


def test_a_member_who_asked_for_the_hosts_nick_offers_it_a_file_by_the_nick_shown(
    tmp_path: Path,
) -> None:
    source = a_file(tmp_path)

    async def body(chat: Chat) -> None:
        joiner, host = chat.joiners["alice"], chat.host
        assert isinstance(host.session, RoomSession)
        assert host.session.hub.nicks() == ("alice", "alice2")
        me, shown_host, members = shown_room(joiner)
        assert (me, shown_host) == ("alice2", "alice")  # not "alice~2": nicks are unique
        assert not any("~" in nick for nick in members), members
        joiner.session.send_file(str(source), "ALICE")  # the host, as typed in any case
        await until(lambda: host.of(TransferOffered), "the offer at the host")
        assert offered_by(host) == "alice2"
        host.session.accept_file()
        got = await done(host)
        assert Path(got.path).read_bytes() == source.read_bytes()
        sent = await done(joiner)
        assert sent.ref.peer == "alice"  # the host, as the joiner's screen shows it
        progress = {e.ref.peer for e in joiner.events if isinstance(e, TransferProgress)}
        assert progress <= {"alice"}, progress

    run(tmp_path, ("alice",), body)


def test_members_whose_nicks_differ_in_case_offer_files_by_the_nicks_shown(
    tmp_path: Path,
) -> None:
    source = a_file(tmp_path, size=800_000)

    async def body(chat: Chat) -> None:
        bob, big_bob, loud_bob = (chat.joiners[n] for n in ("bob", "Bob", "BOB"))
        assert [shown_room(s)[0] for s in (bob, big_bob, loud_bob)] == ["bob", "Bob2", "BOB3"]
        for side in (bob, big_bob, loud_bob):
            assert shown_room(side)[2] == ["alice", "bob", "Bob2", "BOB3"]
        loud_bob.session.send_file(str(source), "bob2")  # Bob2, typed in another case
        await until(lambda: big_bob.of(TransferOffered), "the offer at Bob2")
        assert offered_by(big_bob) == "BOB3"
        big_bob.session.accept_file()
        got = await done(big_bob)
        assert Path(got.path).read_bytes() == source.read_bytes()
        sent = await done(loud_bob)
        assert sent.ref.peer == "Bob2"  # as the sender's screen shows it
        assert not bob.of(TransferOffered)  # not the bob it looks like
        assert not chat.host.of(TransferOffered)  # the host only passed it on

    run(tmp_path, ("bob", "Bob", "BOB"), body)
