"""The full-screen UI in a room: every room command and the rendering of every room event.

The app drives a ``FakeRoom`` (``room_double``): the test hands it the events a
room gives and reads what the app asked of it. Pilot presses the keys; every
wait is for a condition (``tui_harness.settle`` / ``until``).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from room_double import FakeRoom, FakeSource, views
from textual.pilot import Pilot
from tui_harness import FIXED_SAS, fixed_settings, run, settle, until

from confide.app.events import (
    AppEvent,
    Connected,
    Delivered,
    DeliveredAll,
    MemberJoined,
    MemberLeft,
    MemberRenamed,
    MembersChanged,
    MessageIn,
    Notice,
    PrivateIn,
    RoomClosed,
)
from confide.app.session_api import MemberView
from confide.ui.tui.app import ConfideApp
from confide.ui.tui.colours import (
    BASE_COLOURS,
    DARK_PALETTE,
    LIGHT_PALETTE,
    NickColours,
    log_styles,
)
from confide.ui.tui.log import ChatLog
from confide.ui.tui.render import DELIVERED, Kind
from confide.ui.tui.widgets import ChatInput, StatusBar

SAS = FIXED_SAS


@dataclass
class Room:
    """The app, its pilot and the fake room it drives."""

    app: ConfideApp
    pilot: Pilot[int]
    room: FakeRoom

    def lines(self) -> list[str]:
        return self.app.query_one(ChatLog).text_lines()

    def text(self) -> str:
        return "\n".join(self.lines())

    def bar(self) -> str:
        return str(self.app.query_one(StatusBar).render())

    async def emit(self, *events: AppEvent) -> None:
        self.room.emit(*events)
        await settle(self.pilot)

    async def send(self, text: str) -> None:
        await self.pilot.press(*text)
        await self.pilot.press("enter")
        await settle(self.pilot)
        self.app.query_one(ChatInput).clear()


@contextlib.asynccontextmanager
async def in_room(room: FakeRoom, *, crowd: tuple[str, ...] = ()) -> AsyncIterator[Room]:
    """The app in ``room``, connected to its peer; then everyone in ``crowd`` is present."""
    app = ConfideApp(fixed_settings())
    async with app.run_test(size=(100, 30)) as pilot:
        app.start_session(FakeSource(room))
        app.query_one(ChatInput).cursor_blink = False
        handle = Room(app, pilot, room)
        await handle.emit(Connected(room.peer_nick, room.sas))
        if crowd:
            await handle.emit(MembersChanged(crowd))
        try:
            yield handle
        finally:
            room.end()


def joiner(*others: str) -> FakeRoom:
    return FakeRoom(
        nick="bob", peer_nick="alice", sas=SAS, members=views("bob", "alice", *others, sas=SAS)
    )


def host(*others: str) -> FakeRoom:
    return FakeRoom(
        nick="alice",
        is_host=True,
        peer_nick=others[0],
        sas=SAS,
        members=views("alice", "alice", *others, sas=SAS),
    )


def test_joins_leaves_renames_and_notices_are_system_lines_with_the_count() -> None:
    async def body() -> None:
        async with in_room(joiner("bob", "carol"), crowd=("alice", "bob", "carol")) as r:
            await r.emit(MemberJoined("dave"), MembersChanged(("alice", "bob", "carol", "dave")))
            await r.emit(MemberRenamed("carol", "caroline"))
            await r.emit(MemberLeft("dave", "left"), MemberLeft("caroline", "kicked"))
            await r.emit(MemberLeft("erin", "dropped: too slow"))
            await r.emit(Notice("nick 'bob' is taken here; you are 'bob2'"))
            text = r.text()
            for said in (
                "dave joined (4 members)",
                "carol is now caroline",
                "dave left",
                "caroline left: kicked",
                "erin left: dropped: too slow",
                "nick 'bob' is taken here; you are 'bob2'",
            ):
                assert said in text
            entries = r.app.query_one(ChatLog).entries
            assert {e.kind for e in entries} == {Kind.SYSTEM}

    run(body)


def test_the_status_bar_counts_members_and_a_room_of_two_looks_as_before() -> None:
    async def body() -> None:
        async with in_room(joiner("bob")) as r:
            assert "bob ↔ alice" in r.bar()
            assert "SAS " + " ".join(SAS) in r.bar()
            await r.emit(MemberJoined("carol"), MembersChanged(("alice", "bob", "carol")))
            assert "bob · 3 members" in r.bar()
            assert "alice" not in r.bar()
            assert "SAS " + " ".join(SAS) in r.bar()  # a member's SAS is with the host
            await r.emit(MemberLeft("carol", "left"), MembersChanged(("alice", "bob")))
            assert "bob ↔ alice" in r.bar()

    run(body)


def test_the_host_of_a_crowd_points_to_who_for_the_sas() -> None:
    async def body() -> None:
        async with in_room(host("bob", "carol"), crowd=("alice", "bob", "carol")) as r:
            assert "alice · 3 members" in r.bar()
            assert "SAS: /who" in r.bar()
            assert SAS[0] not in r.bar()

    run(body)


def test_back_to_two_the_bar_shows_the_member_left() -> None:
    async def body() -> None:
        room = host("bob", "carol")
        async with in_room(room, crowd=("alice", "bob", "carol")) as r:
            carols = ("ember", "flint", "grove", "haze", "iris")
            room.members = [
                *views("alice", "alice", sas=SAS),
                MemberView("carol", False, False, carols),
            ]
            await r.emit(MemberLeft("bob", "left"), MembersChanged(("alice", "carol")))
            assert "alice ↔ carol" in r.bar()
            assert "SAS " + " ".join(carols) in r.bar()

    run(body)


def test_msg_sends_privately_and_shows_it_marked() -> None:
    async def body() -> None:
        async with in_room(joiner("bob", "carol"), crowd=("alice", "bob", "carol")) as r:
            await r.send("/msg carol meet at 5")
            assert r.room.sent == [("private", "carol", "meet at 5")]
            await r.emit(PrivateIn("carol", "ok!", r.app.settings.clock(), 9))
            await r.send("/msg zed hi")
            entries = r.app.query_one(ChatLog).entries
            private = [e for e in entries if e.private]
            assert [(e.kind, e.nick, e.text) for e in private] == [
                (Kind.OWN, "bob", "→ carol: meet at 5"),
                (Kind.PEER, "carol", "→ you: ok!"),
            ]
            assert "not sent: no one called 'zed' here" in r.text()
            assert len(r.room.sent) == 1
            assert r.app.bells == 1  # a private message rings like a mention

    run(body)


def test_the_private_style_is_only_for_private_lines() -> None:
    for theme in ("dark", "light", "mono"):
        styles = log_styles(theme)
        assert styles.private != styles.system
        assert styles.private not in (styles.own_text, styles.peer_text, styles.action)


def test_receipts_in_a_room_one_tick_until_everyone_has_it() -> None:
    async def body() -> None:
        async with in_room(joiner("bob", "carol"), crowd=("alice", "bob", "carol")) as r:
            await r.send("to everyone")
            entry = next(e for e in r.app.query_one(ChatLog).entries if e.id == 1)
            await r.emit(Delivered(1))
            assert not entry.delivered  # the host has it: still ✓
            await r.emit(DeliveredAll(1))
            assert entry.delivered
            assert any(DELIVERED in x and "to everyone" in x for x in r.lines())

    run(body)


def test_receipts_in_a_room_of_two_are_as_in_a_chat_of_two() -> None:
    async def body() -> None:
        async with in_room(joiner("bob")) as r:
            await r.send("just us")
            await r.emit(Delivered(1))
            entry = next(e for e in r.app.query_one(ChatLog).entries if e.id == 1)
            assert entry.delivered

    run(body)


def test_kick_and_code_only_for_the_host() -> None:
    async def body() -> None:
        async with in_room(joiner("bob", "carol"), crowd=("alice", "bob", "carol")) as r:
            await r.send("/kick carol")
            await r.send("/code")
            assert "only the host can /kick" in r.text()
            assert "only the host has the code" in r.text()
        async with in_room(host("bob", "carol"), crowd=("alice", "bob", "carol")) as r:
            await r.send("/kick carol")
            assert r.room.kicked == ["carol"]
            await r.send("/code")
            assert "code: 7-tidy-otter" in r.text()

    run(body)


def test_who_and_verify_in_a_room() -> None:
    async def body() -> None:
        async with in_room(host("bob", "carol"), crowd=("alice", "bob", "carol")) as r:
            await r.send("/who")
            assert "3 members · room 7:" in r.text()
            assert "alice (host, you)" in r.text()
            assert "carol: SAS " + " ".join(SAS) + ", not compared yet" in r.text()
            await r.send("/verify carol ok")
            assert r.room.marks == {"carol": True}
            await r.send("/who")
            assert "carol: SAS " + " ".join(SAS) + ", verified" in r.text()
            await r.send("/verify")
            assert "name the member: /verify NICK" in r.text()

    run(body)


def test_a_joiner_verifies_the_host_and_the_bar_says_so() -> None:
    async def body() -> None:
        async with in_room(joiner("bob", "carol"), crowd=("alice", "bob", "carol")) as r:
            await r.send("/verify carol")
            assert "you have no SAS with carol" in r.text()
            await r.send("/verify ok")
            assert r.room.marks == {"alice": True}
            assert "verified" in r.bar()
            await r.send("/verify forget")
            assert "verified" not in r.bar()

    run(body)


def test_the_room_closing_ends_the_chat_with_its_reason() -> None:
    async def body() -> None:
        async with in_room(joiner("bob", "carol"), crowd=("alice", "bob", "carol")) as r:
            await r.emit(RoomClosed("the host closed the room"))
            r.room.end()
            await until(r.pilot, lambda: r.app.state == "ended", "the chat to end")
            assert "the host closed the room" in r.text()
            assert "closed" in r.bar()
            assert r.app.leaving.end_reason == "the host closed the room"
            await r.pilot.press("enter")
            await until(r.pilot, lambda: not r.app.is_running, "the app to close")
            assert r.app.return_code == 0

    run(body)


def test_tab_completes_every_member() -> None:
    async def body() -> None:
        async with in_room(
            joiner("bob", "carol", "dave"), crowd=("alice", "bob", "carol", "dave")
        ) as r:
            await r.pilot.press("d", "tab")
            await settle(r.pilot)
            assert r.app.query_one(ChatInput).text == "dave: "

    run(body)


def test_a_nick_changed_at_join_shows_in_the_prompt() -> None:
    async def body() -> None:
        room = joiner("bob2")
        async with in_room(room) as r:
            room.nick = "bob2"  # the host gave us bob2
            await r.emit(Notice("nick 'bob' is taken here; you are 'bob2'"))
            assert "bob2 \u203a" in str(r.app.query_one("#prompt").render())
            assert r.app.query_one(StatusBar).status.me == "bob2"

    run(body)


# -- nick colours for 50 members --------------------------------------------------


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_each_palette_has_50_distinct_readable_colours() -> None:
    for palette, background in ((DARK_PALETTE, "#121212"), (LIGHT_PALETTE, "#ffffff")):
        assert len(set(palette)) == len(palette) == 50
        for a, b in itertools.combinations(palette, 2):
            distance = sum((x - y) ** 2 for x, y in zip(_rgb(a), _rgb(b), strict=True)) ** 0.5
            assert distance >= 40, (a, b)
        assert min(_contrast(c, background) for c in palette) >= 4


def test_fifty_present_members_never_share_a_colour() -> None:
    book = NickColours()
    nicks = tuple(f"member{i}" for i in range(50))
    book.present(nicks, 50)
    assert len({book.index(n, 50) for n in nicks}) == 50
    # one leaves and another comes: the newcomer takes the free colour
    book.present((*nicks[1:], "newcomer"), 50)
    assert len({book.index(n, 50) for n in (*nicks[1:], "newcomer")}) == 50


def test_a_colour_is_kept_while_present_and_a_chat_of_two_keeps_the_hash_colour() -> None:
    book = NickColours()
    assert book.index("alice", 50) == NickColours().index("alice", 50) < BASE_COLOURS
    book.present(("alice", "bob"), 50)
    before = book.index("bob", 50)
    book.present(("alice", "bob", "carol"), 50)
    assert book.index("bob", 50) == before


def test_mono_stays_colourless() -> None:
    styles = log_styles("mono")
    styles.present(tuple(f"m{i}" for i in range(50)))
    assert {styles.nick(f"m{i}").color for i in range(50)} == {None}


# -- a snapshot of a room ---------------------------------------------------------


def test_room_screen_snapshot(snap_compare: Callable[..., bool]) -> None:
    """A joiner in a room of four: the member count, joins, a private line each way."""
    room = joiner("bob", "carol", "dave")

    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, ConfideApp)
        app.start_session(FakeSource(room))
        app.query_one(ChatInput).cursor_blink = False
        when = app.settings.clock()
        room.emit(
            Connected("alice", SAS),
            MembersChanged(("alice", "bob", "carol")),
            MessageIn("alice", "welcome, both of you", when, 1),
            MemberJoined("dave"),
            MembersChanged(("alice", "bob", "carol", "dave")),
            MessageIn("carol", "hi dave", when, 2),
            PrivateIn("dave", "psst, bob", when, 3),
        )
        await settle(pilot)
        for text in ("hello everyone", "/msg dave later"):
            await pilot.press(*text, "enter")
            await settle(pilot)
        room.emit(Delivered(1), DeliveredAll(1), Delivered(2))
        await settle(pilot)
        await pilot.wait_for_scheduled_animations()

    app = ConfideApp(fixed_settings())
    assert snap_compare(app, terminal_size=(80, 16), run_before=run_before)
