"""What the sessions and both UIs say of a peer that is not post-quantum (issue 16).

Over in-memory links (no handshake: ``post_quantum`` is handed to the
sessions as ``app.run`` hands it from ``HandshakeComplete``). Checked: a
joiner whose host is older gets ``NotPostQuantum`` just before
``Connected`` and ``/who`` says ``not post-quantum``; a host announces each
older member after a ``NotPostQuantum`` and ``/who`` marks that member only;
a post-quantum peer gets no event and no mark; line mode says it in its
``connected to`` line and after a member's ``joined``; the status bar shows
it after the padlock (not for a host of a crowded room, whose ``/who`` says it).
"""

from __future__ import annotations

import asyncio
import io

from polling import until
from test_room_session import Rules

from confide.app.chat import ChatSession
from confide.app.events import AppEvent, Connected, MemberJoined, NotPostQuantum
from confide.app.link import memory_link_pair
from confide.app.room_session import NewMember, RoomSpec
from confide.errors import EXIT_OK
from confide.protocol import messages as m
from confide.ui import room_text
from confide.ui.line import LineUI
from confide.ui.pq_text import NOT_PQ
from confide.ui.tui.widgets import Status, StatusBar


async def _joiner(post_quantum: bool) -> tuple[list[AppEvent], list[str]]:
    ours, theirs = memory_link_pair()
    events: list[AppEvent] = []
    session = ChatSession(ours, "bob", ("s",), events.append, post_quantum=post_quantum)
    task = asyncio.create_task(session.run())
    theirs.send(m.Nick("alice"))
    await until(lambda: any(isinstance(e, Connected) for e in events), "connected")
    who = room_text.who_lines(session)
    host_view = next(v for v in session.who() if v.is_host)
    assert host_view.post_quantum is post_quantum
    theirs.send(m.Bye("bye"))
    assert await asyncio.wait_for(task, 2) == EXIT_OK
    return events, who


def test_a_joiner_with_an_older_host_is_told_before_connected_and_who_says_so() -> None:
    events, who = asyncio.run(_joiner(post_quantum=False))
    told = [e for e in events if isinstance(e, NotPostQuantum | Connected)]
    assert told == [NotPostQuantum("alice"), Connected("alice", ("s",))]
    assert who == [f"you: bob · peer: alice (SAS not compared yet (/verify); {NOT_PQ})"]


def test_a_post_quantum_host_gets_no_event_and_no_mark() -> None:
    events, who = asyncio.run(_joiner(post_quantum=True))
    assert not any(isinstance(e, NotPostQuantum) for e in events)
    assert who == ["you: bob · peer: alice (SAS not compared yet (/verify))"]


def test_a_host_announces_each_older_member_after_the_event_and_who_marks_only_them() -> None:
    async def scenario() -> None:
        arrivals: asyncio.Queue[NewMember] = asyncio.Queue()
        bob_host, bob_end = memory_link_pair()
        carol_host, carol_end = memory_link_pair()
        events: list[AppEvent] = []
        spec = RoomSpec("alice", NewMember(bob_host, ("s",)), Rules(), arrivals.get)
        host = spec.session(events.append)
        bob = ChatSession(bob_end, "bob", ("s",), lambda _e: None)
        carol = ChatSession(carol_end, "carol", ("t",), lambda _e: None, post_quantum=False)
        tasks = [asyncio.create_task(s.run()) for s in (host, bob, carol)]
        await until(lambda: any(isinstance(e, Connected) for e in events), "bob connected")
        arrivals.put_nowait(NewMember(carol_host, ("t",), post_quantum=False))
        await until(lambda: any(isinstance(e, MemberJoined) for e in events), "carol joined")
        told = [e for e in events if isinstance(e, NotPostQuantum | Connected | MemberJoined)]
        assert [type(e).__name__ for e in told] == ["Connected", "NotPostQuantum", "MemberJoined"]
        assert told[1] == NotPostQuantum("carol")
        views = {v.nick: v.post_quantum for v in host.who()}
        assert views == {"alice": None, "bob": True, "carol": False}
        lines = room_text.who_lines(host)
        assert [line for line in lines if NOT_PQ in line] == [
            f"  carol: SAS t, not compared yet (/verify carol) · {NOT_PQ}"
        ]
        await host.leave()
        for task in tasks:
            assert await asyncio.wait_for(task, 2) == EXIT_OK

    asyncio.run(scenario())


def test_line_mode_says_it_in_the_connected_line_and_after_a_members_join() -> None:
    err = io.StringIO()
    ui = LineUI(io.StringIO(), err)
    ui.on_event(NotPostQuantum("alice"))
    ui.on_event(Connected("alice", ("a", "b")))
    ui.on_event(NotPostQuantum("carol"))
    ui.on_event(MemberJoined("carol", ("c",)))
    ui.on_event(MemberJoined("dave", ("d",)))
    lines = err.getvalue().splitlines()
    assert lines[0] == f"connected to alice (end-to-end encrypted, {NOT_PQ}: an older confide)"
    assert lines[1] == "SAS: a b"
    assert lines[3] == f"carol: {NOT_PQ} (an older confide: classical keys only)"
    assert sum(NOT_PQ in line for line in lines) == 2  # dave is post-quantum


def test_a_post_quantum_peer_keeps_the_plain_connected_line() -> None:
    err = io.StringIO()
    LineUI(io.StringIO(), err).on_event(Connected("alice", ("a",)))
    assert err.getvalue().splitlines()[0] == "connected to alice (end-to-end encrypted)"


def _bar_texts(**status: object) -> list[str]:
    bar = StatusBar()
    bar.status = Status(**status)  # type: ignore[arg-type]
    return [text for text, _cls, _priority in bar.parts()]


def test_the_status_bar_says_it_after_the_padlock_while_secure() -> None:
    texts = _bar_texts(me="bob", peer="alice", secure=True, sas=("a",), classical=True)
    assert texts.index(NOT_PQ) == texts.index(next(t for t in texts if "e2e" in t)) + 1
    assert NOT_PQ not in _bar_texts(me="bob", peer="alice", secure=True, sas=("a",))
    assert NOT_PQ not in _bar_texts(me="bob", peer="alice", secure=False, classical=True)
    crowded_host = _bar_texts(me="alice", secure=True, members=3, host=True, classical=True)
    assert NOT_PQ not in crowded_host  # one state per member: /who says it
