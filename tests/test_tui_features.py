"""Pilot and unit tests of what weechat users reach for: links, /find, copy,
notifications, and the date when a chat crosses midnight.

The app runs headless in a real chat over loopback (see ``tui_harness``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from rich.console import Console
from textual import events
from tui_harness import chat, fixed_settings, run

from confide.cli import build_parser
from confide.config import Config
from confide.ui.tui.colours import log_styles
from confide.ui.tui.render import Entry, Kind, find_links, render_entry
from confide.ui.tui.settings import TuiSettings


def test_urls_are_links_to_exactly_the_text_shown() -> None:
    text = "see https://example.org/a?b=1, and (http://x.test/p). not ftp://no"
    assert [u for _, _, u in find_links(text)] == ["https://example.org/a?b=1", "http://x.test/p"]
    entry = Entry(Kind.PEER, "09:41", "bob", text)
    rows = render_entry(entry, 100, log_styles("dark"), Console())
    linked = {
        seg.text: seg.style.link for row in rows for seg in row if seg.style and seg.style.link
    }
    assert linked == {"https://example.org/a?b=1": "https://example.org/a?b=1",
                      "http://x.test/p": "http://x.test/p"}  # fmt: skip


def test_find_jumps_back_between_matches_and_ctrl_f_repeats() -> None:
    async def body() -> None:
        async with chat(size=(80, 12)) as c:
            for n in range(30):
                c.peer.say(f"line {n}" + (" needle" if n in (3, 17) else ""))
            await c.until(lambda: any("line 29" in x for x in c.lines()), "the lines")
            await c.send("/find NEEDLE")
            assert c.log.found is not None
            assert c.log.found.text == "line 17 needle"
            assert not c.log.is_vertical_scroll_end  # the view moved up to it
            await c.press("ctrl+f")
            assert c.log.found.text == "line 3 needle"
            await c.press("ctrl+f")
            assert any("no more lines with 'NEEDLE'" in x for x in c.lines())
            await c.send("/find nothing-like-this")
            assert any("no line has 'nothing-like-this'" in x for x in c.lines())
            assert c.received() == []  # /find is never sent

    run(body)


def test_copy_puts_the_last_messages_on_the_clipboard() -> None:
    async def body() -> None:
        async with chat() as c:
            c.peer.say("first from bob")
            await c.until(lambda: any("first from bob" in x for x in c.lines()), "bob's line")
            await c.send("mine")
            await c.send("/copy")
            assert c.app.clipboard == "mine"
            await c.send("/copy 2")
            assert c.app.clipboard == "first from bob\nmine"
            assert [m.text for m in c.received()] == ["mine"]
            await c.send("/help")
            shown = "\n".join(c.lines())
            assert "/copy" in shown
            assert "Shift+drag" in shown

    run(body)


def test_a_mention_while_unfocused_notifies_without_the_text_unless_asked() -> None:
    async def body(text_too: bool) -> list[str]:
        settings = fixed_settings(notify=True, notify_text=text_too)
        async with chat(settings) as c:
            c.peer.say("alice: seen while focused")
            await c.until(lambda: any("while focused" in x for x in c.lines()), "line 1")
            assert c.app.notifications == []  # focused: the bell is enough
            c.app.post_message(events.AppBlur())
            await c.until(lambda: not c.app.app_focus, "the app to lose focus")
            c.peer.say("no mention here")
            c.peer.say("alice: \x1b]0;evil\x07 the secret")
            await c.until(lambda: any("the secret" in x for x in c.lines()), "line 3")
            return list(c.app.notifications)

    def go() -> None:
        async def both() -> None:
            assert await body(False) == ["bob mentioned you"]
            [shown] = await body(True)
            assert shown.startswith("bob: alice: ")
            assert shown.endswith("the secret")
            assert "\x1b" not in shown
            assert "\x07" not in shown

        asyncio.run(both())

    go()


def test_notifications_are_off_unless_asked() -> None:
    async def body() -> None:
        async with chat() as c:
            c.app.post_message(events.AppBlur())
            await c.until(lambda: not c.app.app_focus, "the app to lose focus")
            c.peer.say("alice: hello")
            await c.until(lambda: any("alice: hello" in x for x in c.lines()), "the line")
            assert c.app.notifications == []

    run(body)


def test_a_chat_crossing_midnight_shows_the_date() -> None:
    now = [datetime(2025, 5, 17, 23, 59)]
    settings = fixed_settings(clock=lambda: now[0])

    async def body() -> None:
        async with chat(settings) as c:
            await c.send("before midnight")
            now[0] = datetime(2025, 5, 18, 0, 1)
            c.peer.say("after midnight")
            await c.until(lambda: any("after midnight" in x for x in c.lines()), "the line")
            await c.send("still the 18th")
            rows = c.lines()
            dates = [i for i, r in enumerate(rows) if "Sunday 18 May 2025" in r]
            assert len(dates) == 1  # once, where the day changed
            before = next(i for i, r in enumerate(rows) if "before midnight" in r)
            after = next(i for i, r in enumerate(rows) if "after midnight" in r)
            assert before < dates[0] < after
            assert "00:01" in rows[after]

    run(body)


def test_notify_is_opt_in_from_the_flag_or_the_config() -> None:
    assert build_parser().parse_args(["join", "--notify"]).notify is True
    assert build_parser().parse_args(["host"]).notify is False
    off = TuiSettings.from_config(Config())
    assert (off.notify, off.notify_text) == (False, False)
    flag = TuiSettings.from_config(Config(), notify=True)
    assert (flag.notify, flag.notify_text) == (True, False)
    both = TuiSettings.from_config(Config(notify=True, notify_text=True))
    assert (both.notify, both.notify_text) == (True, True)
