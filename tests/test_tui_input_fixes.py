"""Pilot tests of the input line: refused commands, pastes, and the burst rule.

The app runs headless in a real chat over loopback (see ``tui_harness``).
"""

from __future__ import annotations

from textual import events
from tui_harness import chat, run

from confide.ui.tui.driver import is_burst
from confide.ui.tui.widgets import StatusBar, pasted_text


def test_a_refused_command_stays_selected_so_typing_replaces_it() -> None:
    async def body() -> None:
        async with chat() as c:
            await c.send("/foo bar")
            assert any("unknown command /foo" in line for line in c.lines())
            assert c.input.text == "/foo bar"  # kept, to fix it
            assert c.input.selected_text == "/foo bar"
            await c.type("hello")
            assert c.input.text == "hello"  # typing replaced it
            await c.press("enter")
            await c.until(c.received, "the peer to receive")
            assert [m.text for m in c.received()] == ["hello"]

    run(body)


def test_a_short_paste_has_plain_newlines_and_no_trailing_blank_line() -> None:
    async def body() -> None:
        async with chat() as c:
            c.app.post_message(events.Paste("one\r\ntwo\rthree\n"))
            await c.until(lambda: c.input.text == "one\ntwo\nthree", "the paste in the input")

    run(body)


def test_pasted_text_makes_cr_lf_and_crlf_one_newline() -> None:
    assert pasted_text("a\r\nb\rc\nd\r\n\r\n") == "a\nb\nc\nd"
    assert pasted_text("\n") == ""


def test_a_burst_of_lines_in_one_read_is_a_paste() -> None:
    assert is_burst("1\r2\r3\r4\r5\r6\r")
    assert is_burst("1\n2\n3\n4\n5\n6")
    assert not is_burst("msg 1\r")  # typed: a line at a time
    assert not is_burst("msg 1\rmsg 2\rmsg 3\r")  # a few quick lines stay keys
    assert not is_burst("\x1b[200~a\rb\rc\r\x1b[201~")  # bracketed: Textual parses it
    assert not is_burst("1\r2\r3\r4\r5\r6\r", idle=0.01)  # input was flowing: typed


def test_the_sas_is_the_last_part_of_the_bar_to_go() -> None:
    async def body() -> None:
        async with chat(size=(40, 24)) as c:
            bar = str(c.app.query_one(StatusBar).render())
            assert "SAS orbit velvet canyon mango thistle" in bar
        async with chat(size=(30, 24)) as c:
            bar = str(c.app.query_one(StatusBar).render())
            assert "SAS: /verify" in bar

    run(body)


def test_the_latency_is_cleared_when_the_peer_leaves() -> None:
    async def body() -> None:
        async with chat(ping_interval=0.05) as c:
            status = c.app.query_one(StatusBar)
            await c.until(lambda: status.status.latency_ms is not None, "a latency")
            await c.peer.leave("bye")
            await c.until(lambda: c.app.state == "ended", "the chat to end")
            assert status.status.latency_ms is None
            assert " ms" not in str(status.render())

    run(body)
