"""Pilot tests of the full-screen app in a real chat over loopback TCP.

Each test runs ``ConfideApp`` headless (``App.run_test``) with a real
``ChatSession`` whose peer is another real ``ChatSession`` on the other end of
a real handshake (see ``tui_harness``). Keys go in through the Pilot; what the
peer receives is checked on the peer's side.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime

import pytest
from rich.cells import cell_len
from textual import events
from tui_harness import chat, run

from confide.app.events import MessageIn, PeerLeft, PeerTyping
from confide.ui import commands as cmd
from confide.ui.tui import leaving
from confide.ui.tui.log import ChatLog
from confide.ui.tui.messages import SessionEvent
from confide.ui.tui.screens import LeaveScreen, PasteScreen
from confide.ui.tui.widgets import StatusBar, TypingBar, UnreadBar


def test_enter_sends_and_own_line_shows() -> None:
    async def body() -> None:
        async with chat() as c:
            await c.send("hello bob")
            await c.until(c.received, "the peer to receive")
            assert [m.text for m in c.received()] == ["hello bob"]
            assert c.received()[0].nick == "alice"
            assert c.input.text == ""
            assert any(line.endswith("alice │ hello bob") for line in c.lines())

    run(body)


def test_receiving_while_typing_keeps_the_draft() -> None:
    async def body() -> None:
        async with chat() as c:
            await c.type("half typ")
            cursor = c.input.cursor_location
            for n in range(3):
                c.peer.say(f"interruption {n}")
            await c.until(lambda: any("interruption 2" in x for x in c.lines()), "lines")
            assert c.input.text == "half typ"
            assert c.input.cursor_location == cursor
            await c.send("ed")
            await c.until(c.received, "the peer to receive")
            assert c.received()[0].text == "half typed"

    run(body)


def test_shift_enter_and_ctrl_j_make_a_multi_line_message() -> None:
    async def body() -> None:
        async with chat() as c:
            await c.type("one")
            await c.press("shift+enter")
            await c.type("two")
            await c.press("ctrl+j")
            await c.type("three")
            assert c.input.text == "one\ntwo\nthree"
            assert c.received() == []  # nothing sent yet
            await c.press("enter")
            await c.until(c.received, "the peer to receive")
            assert c.received()[0].text == "one\ntwo\nthree"
            rows = c.lines()
            start = next(i for i, r in enumerate(rows) if r.endswith("alice │ one"))
            # continuation lines start in the text column, under "one"
            assert rows[start + 1].endswith("│ two")
            assert rows[start + 1].startswith(" " * 20)
            assert rows[start + 1].index("two") == rows[start].index("one")
            assert rows[start + 2].index("three") == rows[start].index("one")

    run(body)


def test_up_and_down_recall_history_and_keep_the_draft() -> None:
    async def body() -> None:
        async with chat() as c:
            await c.send("first")
            await c.send("second")
            await c.type("draft")
            await c.press("up")
            assert c.input.text == "second"
            await c.press("up")
            assert c.input.text == "first"
            await c.press("up")  # oldest: stays
            assert c.input.text == "first"
            await c.press("down")
            assert c.input.text == "second"
            await c.press("down")
            assert c.input.text == "draft"
            await c.press("up", "enter")
            await c.until(lambda: len(c.received()) == 3, "three messages")
            assert [m.text for m in c.received()] == ["first", "second", "second"]

    run(body)


def test_tab_completes_commands_and_nicks() -> None:
    async def body() -> None:
        async with chat() as c:
            await c.type("b")
            await c.press("tab")
            assert c.input.text == "bob: "  # a nick at the start gets ": "
            c.input.clear()
            await c.type("thanks B")
            await c.press("tab")
            assert c.input.text == "thanks bob "  # elsewhere a space
            c.input.clear()
            await c.type("/ve")
            await c.press("tab")
            assert c.input.text == "/verify "
            c.input.clear()
            await c.type("/")
            seen = set()
            for _ in range(len(cmd.COMMANDS) + 1):  # Tab again cycles through every command
                await c.press("tab")
                seen.add(c.input.text.strip())
            assert {"/help", "/me", "/nick", "/who", "/verify", "/clear", "/quit"} <= seen
            c.input.clear()
            await c.type("zz")
            await c.press("tab")  # nothing matches: nothing changes, focus stays
            assert c.input.text == "zz"
            assert c.app.focused is c.input

    run(body)


def test_a_long_paste_asks_before_sending() -> None:
    # posted to the app, as the terminal driver does: it goes to the focused input
    paste = "\n".join(f"pasted line {n}" for n in range(12))

    async def body() -> None:
        async with chat() as c:
            c.app.post_message(events.Paste(paste))
            await c.until(lambda: isinstance(c.app.screen, PasteScreen), "the question")
            assert "12 lines" in str(c.app.screen.query_one(".question-title").render())
            assert c.input.text == ""
            assert c.received() == []
            await c.pilot.press("y")
            await c.until(c.received, "the paste to arrive")
            assert c.received()[0].text == paste

            c.app.post_message(events.Paste(paste))
            await c.until(lambda: isinstance(c.app.screen, PasteScreen), "the question")
            await c.pilot.press("escape")
            await c.until(lambda: not isinstance(c.app.screen, PasteScreen), "it to close")
            assert any("paste was dropped" in line for line in c.lines())

            c.app.post_message(events.Paste(paste))
            await c.until(lambda: isinstance(c.app.screen, PasteScreen), "the question")
            await c.pilot.press("e")
            await c.until(lambda: c.input.text == paste, "the paste in the input")

            c.input.clear()
            c.app.post_message(events.Paste("short\npaste"))  # 2 lines: no question
            await c.until(lambda: c.input.text == "short\npaste", "a short paste")
            assert not isinstance(c.app.screen, PasteScreen)
            c.input.clear()
            await c.send("barrier")  # whatever was sent before it has arrived when it has
            await c.until(lambda: len(c.received()) > 1, "the barrier")
            # only the confirmed paste was ever sent
            assert [m.text for m in c.received()] == [paste, "barrier"]

    run(body)


def test_unread_marker_counts_messages_below_the_view() -> None:
    async def body() -> None:
        async with chat() as c:
            for n in range(40):
                c.peer.say(f"old {n}")
            await c.until(lambda: any("old 39" in x for x in c.lines()), "40 lines")
            bar = c.app.query_one(UnreadBar)
            assert not bar.display
            await c.press("pageup")
            assert not c.log.is_vertical_scroll_end
            for n in range(3):
                c.peer.say(f"new {n}")
            await c.until(lambda: c.log.unread == 3, "3 unread")
            # the log tells the app with a message: wait until the app has handled it
            await c.until(lambda: "3 new messages" in str(bar.render()), "the unread bar")
            assert bar.display
            rows = c.lines()
            marker = c.log.marker_row
            assert marker is not None
            assert "3 new" in rows[marker]
            assert rows[marker + 1].endswith("bob │ new 0")
            assert rows[marker - 1].endswith("bob │ old 39")
            for _ in range(10):
                await c.press("pagedown")
            await c.until(lambda: c.log.unread == 0, "read to the bottom")
            await c.until(lambda: not bar.display, "the unread bar to go")
            assert c.input.text == ""  # paging never touched the input

    run(body)


def test_receipts_show_one_mark_when_sent_and_two_when_delivered() -> None:
    async def body() -> None:
        async with chat() as c:
            transport = c.peer_channel.writer.transport
            assert isinstance(transport, asyncio.Transport)  # a socket's: it can pause reading
            transport.pause_reading()  # the peer's app does not get it yet
            await c.send("are you there")
            await c.until(lambda: any("are you there" in x for x in c.lines()), "own line")
            await c.settle()
            line = next(x for x in c.lines() if "are you there" in x)
            assert line.startswith("09:41 ✓  ")
            assert "✓✓" not in line
            transport.resume_reading()
            await c.until(c.received, "the peer to receive")
            await c.until(
                lambda: any("✓✓" in x and "are you there" in x for x in c.lines()), "receipt"
            )

    run(body)


def test_ctrl_c_asks_once_then_leaves_cleanly() -> None:
    async def body() -> None:
        async with chat() as c:
            await c.type("draft")
            await c.press("ctrl+c")
            assert isinstance(c.app.screen, LeaveScreen)
            await c.press("escape")  # stay
            assert not isinstance(c.app.screen, LeaveScreen)
            assert c.input.text == "draft"
            await c.press("ctrl+d")
            assert isinstance(c.app.screen, LeaveScreen)
            await c.press("n")
            await c.press("ctrl+c")
            assert c.app.is_running
            await c.pilot.press("ctrl+c")  # the second press leaves (the app closes)
            await c.until(lambda: any(isinstance(e, PeerLeft) for e in c.peer_events), "bye")
            await c.until(lambda: not c.app.is_running, "the app to exit")
            assert c.app.return_code == 0
            assert await c.app.finish() == 0
            assert c.received() == []  # the draft was never sent

    run(body)


def test_peer_leaving_keeps_the_screen_until_enter() -> None:
    async def body() -> None:
        async with chat() as c:
            c.peer.say("gotta go")
            await c.peer.leave("bye")
            await c.until(lambda: c.app.state == "ended", "the chat to end")
            await c.until(lambda: any("bob left" in x for x in c.lines()), "bob left")
            assert c.app.is_running  # the last lines can still be read
            assert any("gotta go" in x for x in c.lines())
            await c.pilot.press("enter")
            await c.until(lambda: not c.app.is_running, "the app to close")
            assert c.app.return_code == 0

    run(body)


def test_a_lost_connection_is_shown_and_exits_4() -> None:
    async def body() -> None:
        async with chat() as c:
            c.peer_channel.writer.transport.abort()  # no goodbye
            await c.until(lambda: c.app.state == "ended", "the chat to end")
            await c.until(lambda: any("closed" in x or "lost" in x for x in c.lines()), "why")
            await c.pilot.press("ctrl+c")  # no question when it is over
            await c.until(lambda: not c.app.is_running, "the app to close")
            assert c.app.return_code == 4

    run(body)


def test_status_lines_printed_during_the_chat_become_system_lines() -> None:
    async def body() -> None:
        async with chat() as c:
            import sys

            print("refused a second joiner: room full", file=sys.stderr, flush=True)
            await c.until(lambda: any("room full" in x for x in c.lines()), "the status line")
            row = next(x for x in c.lines() if "room full" in x)
            assert "• │" in row

    run(body)


def test_status_bar_shows_room_who_state_shield_sas_and_latency() -> None:
    async def body() -> None:
        async with chat(ping_interval=0.05) as c:
            bar = c.app.query_one(StatusBar)
            await c.until(lambda: bar.status.latency_ms is not None, "a round trip")
            # at 80 columns a latency of any width (1 to 4 digits) never pushes out the state
            for ms, fits in ((7, True), (42, False), (512, False), (4096, False)):
                bar.show(latency_ms=ms)
                shown = str(bar.render())
                assert cell_len(shown) <= 80, shown
                for part in ("alice ↔ bob", "connected", "\U0001f512 e2e"):
                    assert part in shown, (ms, shown)
                assert "SAS orbit velvet canyon mango thistle" in shown, (ms, shown)
                assert (f"{ms} ms" in shown) == fits, (ms, shown)
            await c.pilot.resize_terminal(120, 30)
            await c.until(lambda: bar.size.width == 120, "the wider bar")
            shown = str(bar.render())
            assert "room 7" in shown
            assert "connected" in shown
            assert re.search(r"\d+ ms", shown)
            await c.peer.leave("bye")
            await c.until(lambda: bar.status.state == "left", "the peer to leave")
            assert "e2e" not in str(bar.render())  # no shield once the channel is gone

    run(body)


def test_leaving_never_hangs_on_a_peer_that_stopped_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(leaving, "GOODBYE_TIMEOUT", 0.3)

    async def body() -> None:
        async with chat() as c:
            transport = c.peer_channel.writer.transport
            assert isinstance(transport, asyncio.Transport)
            transport.pause_reading()
            session = c.app.session
            assert session is not None
            for _ in range(200):  # far more than the socket buffers hold
                session.say("x" * 30_000)
            await c.pilot.press("ctrl+c", "ctrl+c")
            # bounded, with room for a loaded 2-core CI machine
            await c.until(lambda: not c.app.is_running, "the app to exit anyway", steps=1500)
            assert c.app.return_code == 0
            assert c.channel.closed

    run(body)


def test_messages_handled_while_the_screen_is_taken_down_are_ignored() -> None:
    # When the app stops, Textual removes its widgets while messages posted just
    # before (an unread count, a line from the peer) are still being handled. On
    # Python 3.12 and 3.13 the bars went first, and the handlers failed with
    # NoMatches. Take the bars away as that teardown does, then deliver both kinds.
    async def body() -> None:
        async with chat() as c:
            for n in range(40):
                c.peer.say(f"old {n}")
            await c.until(lambda: any("old 39" in x for x in c.lines()), "40 lines")
            await c.press("pageup")
            await c.app.query_one(UnreadBar).remove()
            await c.app.query_one(TypingBar).remove()
            c.log.post_message(ChatLog.UnreadChanged(1))
            when = datetime(2025, 5, 17, 9, 41)
            c.app.post_message(SessionEvent(MessageIn("bob", "late", when, 99)))
            c.app.post_message(SessionEvent(PeerTyping("bob", on=True)))
            await c.settle()
            assert c.app.is_running
            assert c.app.return_code is None  # no crash (run_test would also re-raise it)

    run(body)
