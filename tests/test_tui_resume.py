"""What the full-screen UI shows while a session is being resumed (issue 11).

The app drives a ``FakeRoom`` (``room_double``); the test hands it the
``PeerAway``/``PeerBack`` events a resumable link gives and reads the log
and the status bar. Every wait is for a condition (``tui_harness.settle``).
"""

from __future__ import annotations

from test_tui_rooms import in_room, joiner
from tui_harness import run

from confide.app.events import Delivered, PeerAway, PeerBack
from confide.ui.tui.log import ChatLog
from confide.ui.tui.render import DELIVERED, PENDING, SENT


def test_a_stall_shows_in_the_bar_and_log_and_lines_wait_with_a_mark() -> None:
    async def body() -> None:
        async with in_room(joiner("bob")) as r:
            await r.send("before")
            await r.emit(PeerAway("alice", "no answer for 10 s"))
            assert "reconnecting" in r.bar()
            assert any("no answer from alice for 10 s; reconnecting…" in x for x in r.lines())
            await r.send("while away")
            log = r.app.query_one(ChatLog)
            waiting = next(e for e in log.entries if e.text == "while away")
            assert waiting.pending
            assert any(PENDING in x and "while away" in x for x in r.lines())
            assert any(SENT in x and "before" in x for x in r.lines())
            await r.emit(PeerBack("alice"))
            assert not waiting.pending
            assert "reconnecting" not in r.bar()
            assert "connected" in r.bar()
            assert any("alice is back" in x for x in r.lines())
            assert any(SENT in x and "while away" in x for x in r.lines())
            await r.emit(Delivered(2))
            assert any(DELIVERED in x and "while away" in x for x in r.lines())

    run(body)


def test_a_lost_connection_names_its_reason() -> None:
    async def body() -> None:
        async with in_room(joiner("bob")) as r:
            await r.emit(PeerAway("alice", "connection lost: reset by peer"))
            text = r.text()
            assert (
                "lost the connection to alice (connection lost: reset by peer); reconnecting…"
                in text
            )

    run(body)
