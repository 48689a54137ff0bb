"""What the full-screen app shows: hostile text, wide text, mentions, typing, colour, size.

All in a real chat over loopback TCP (see ``tui_harness``), except the
10,000-line test, which feeds the log directly (sending 10,000 messages over
the network would test the network, not the scrollback).
"""

from __future__ import annotations

import re

import pytest
from rich.cells import cell_len
from textual.strip import Strip
from tui_harness import chat, fixed_settings, run

from confide.app.events import PeerTyping
from confide.config import Config
from confide.ui.tui.render import Entry, Kind
from confide.ui.tui.settings import TuiSettings, resolve_theme
from confide.ui.tui.widgets import StatusBar, TypingBar

HOSTILE = (
    "\x1b[2J\x1b[H\x1b[31mred\x1b[0m\rgone\x07\x08\x9b31m\u202eevil\u2066x"
    "\n09:41             • │ alice left\n\x1b]0;pwned\x07"
)


def _styles(strip: Strip) -> list[tuple[str, bool]]:
    """(text, is dim italic) for each segment."""
    return [
        (seg.text.strip(), bool(seg.style and seg.style.dim and seg.style.italic))
        for seg in strip
        if seg.text.strip()
    ]


def test_escape_sequences_from_the_peer_are_shown_inert() -> None:
    async def body() -> None:
        async with chat() as c:
            c.peer.say(HOSTILE)
            await c.until(lambda: any("evil" in x for x in c.lines()), "the hostile line")
            entry = c.log.entries[-1]
            assert entry.kind is Kind.PEER
            strips = c.log.row_strips()[-entry.height :]
            raw = "".join(seg.text for strip in strips for seg in strip)
            for bad in ("\x1b", "\r", "\x07", "\x08", "\x9b", "\u202e", "\u2066"):
                assert bad not in raw
            assert "^[[2J" in raw
            assert "^G" in raw
            assert "<U+202E>" in raw
            # the fake system line is a continuation of bob's message: indented, not dim italic
            fake = next(s for s in strips if "alice left" in s.text)
            assert fake.text.startswith(" " * 20 + "│ 09:41")
            assert not any(dim for _, dim in _styles(fake))
            # a real system line is dim italic all along its text
            real = next(s for s in c.log.row_strips() if "connected to bob" in s.text)
            assert all(dim for text, dim in _styles(real) if text not in ("09:41", "│"))
            assert c.app.query_one(StatusBar).status.peer == "bob"

    run(body)


def test_a_peer_cannot_take_the_system_mark_as_nick() -> None:
    async def body() -> None:
        async with chat() as c:
            c.peer.rename("•")
            c.peer.say("alice left")
            await c.until(lambda: any("alice left" in x for x in c.lines()), "the line")
            row = next(x for x in c.lines() if x.endswith("alice left"))
            assert "<•> │ alice left" in row
            strip = next(s for s in c.log.row_strips() if s.text.rstrip().endswith("alice left"))
            assert not any(dim for _, dim in _styles(strip))

    run(body)


def test_wide_characters_and_emoji_wrap_by_cell_width() -> None:
    text = "漢字かな交じり文と絵文字👍🎉を" * 8 + " end"

    async def body() -> None:
        async with chat() as c:
            c.peer.say(text)
            await c.until(lambda: c.log.entries[-1].text == text, "the wide line")
            entry = c.log.entries[-1]
            strips = c.log.row_strips()[-entry.height :]
            width = c.log.scrollable_content_region.width
            assert entry.height > 2
            assert all(s.cell_length == width for s in strips)
            joined = "".join(s.text[22:].rstrip() for s in strips)
            assert joined.replace(" ", "") == text.replace(" ", "")  # nothing lost or split
            for s in strips[1:]:
                assert cell_len(s.text[:22]) == 22  # text column kept on every row

    run(body)


@pytest.mark.parametrize("bell", [True, False])
def test_a_mention_is_highlighted_and_rings_the_bell(bell: bool) -> None:
    async def body() -> None:
        async with chat(fixed_settings(bell=bell)) as c:
            c.peer.say("malice is not a mention")
            c.peer.say("hey ALICE, look at this")
            await c.until(lambda: any("look at" in x for x in c.lines()), "the mention")
            first, second = list(c.log.entries)[-2:]
            assert not first.mention
            assert second.mention
            assert c.app.bells == (1 if bell else 0)
            strip = c.log.row_strips()[-1]
            styles = [seg.style for seg in strip if "look" in seg.text]
            mention = c.log.log_styles.mention
            assert styles
            assert all(s is not None and s.bgcolor == mention.bgcolor for s in styles)

    run(body)


def test_no_bell_flag_and_config_turn_the_bell_off() -> None:
    assert TuiSettings.from_config(Config()).bell
    assert not TuiSettings.from_config(Config(), no_bell=True).bell
    assert not TuiSettings.from_config(Config(bell=False)).bell


def test_typing_indicator_when_both_sides_turned_it_on() -> None:
    async def body() -> None:
        async with chat(fixed_settings(typing=True), peer_typing=True) as c:
            bar = c.app.query_one(TypingBar)
            await c.until(lambda: c.peer.peer_typing_enabled, "the announcement")
            c.peer.typing(True)
            await c.until(lambda: bar.display, "the indicator")
            assert "bob is typing" in str(bar.render())
            c.peer.typing(False)
            await c.until(lambda: not bar.display, "it to go")
            await c.type("hel")
            await c.until(
                lambda: any(isinstance(e, PeerTyping) and e.on for e in c.peer_events), "typing"
            )
            await c.send("lo")
            await c.until(c.received, "the message")
            typing = [e.on for e in c.peer_events if isinstance(e, PeerTyping)]
            # the opt-in announcement, then one start and one stop (on send)
            assert typing == [False, True, False]

    run(body)


@pytest.mark.parametrize(("ours", "theirs"), [(False, True), (True, False), (False, False)])
def test_typing_indicator_is_off_unless_both_turned_it_on(ours: bool, theirs: bool) -> None:
    async def body() -> None:
        async with chat(fixed_settings(typing=ours), peer_typing=theirs) as c:
            bar = c.app.query_one(TypingBar)
            c.peer.typing(True)
            await c.send("hello")
            c.peer.say("barrier")  # everything sent before it has arrived when it has
            await c.until(c.received, "our message")
            await c.until(lambda: any("barrier" in x for x in c.lines()), "the barrier")
            assert not bar.display
            assert not any(isinstance(e, PeerTyping) for e in c.peer_events)

    run(body)


def _colours(svg: str) -> set[str]:
    """Colours used in a screenshot, minus the three window-button circles of its frame."""
    svg = re.sub(r"<circle[^>]*>", "", svg)
    return {m.lower() for m in re.findall(r"#[0-9a-fA-F]{6}\b", svg)}


def _grey(colour: str) -> bool:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return max(r, g, b) - min(r, g, b) <= 8


def test_no_color_forces_the_monochrome_theme(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_theme("dark", {"NO_COLOR": "1"}) == "mono"
    assert resolve_theme("light", {"NO_COLOR": ""}) == "light"  # empty means unset
    assert resolve_theme("nonsense", {}) == "dark"
    monkeypatch.setenv("NO_COLOR", "1")
    settings = TuiSettings.from_config(Config(theme="dark"))
    assert settings.theme == "mono"

    async def body() -> None:
        async with chat(fixed_settings(theme=settings.theme)) as c:
            c.peer.say("hello in black and white")
            await c.send("hi")
            await c.until(lambda: any("✓✓" in x for x in c.lines()), "the receipt")
            colours = _colours(c.app.export_screenshot())
            assert colours
            assert all(_grey(col) for col in colours), sorted(colours)

    run(body)


def test_the_dark_theme_does_use_colour() -> None:
    async def body() -> None:
        async with chat(fixed_settings(theme="dark")) as c:
            c.peer.say("colourful")
            await c.until(lambda: any("colourful" in x for x in c.lines()), "the line")
            assert not all(_grey(col) for col in _colours(c.app.export_screenshot()))

    run(body)


def test_it_fits_80x24_and_resizes_cleanly() -> None:
    long = "a long line that must wrap again when the terminal gets narrower " * 3

    async def body() -> None:
        async with chat(size=(80, 24)) as c:
            c.peer.say(long)
            await c.until(lambda: any("narrower" in x for x in c.lines()), "the line")
            before = c.log.entries[-1].height
            for width, height in ((50, 16), (120, 40), (80, 24)):
                await c.pilot.resize_terminal(width, height)

                # the log lays itself out again when its Resize message is handled
                def relaid(w: int = width) -> bool:
                    return c.log.scrollable_content_region.width == w - 1 and all(
                        s.cell_length == w - 1 for s in c.log.row_strips()
                    )

                def bar_fits(w: int = width) -> bool:
                    return c.app.query_one(StatusBar).size.width == w

                await c.until(relaid, "a relayout")
                await c.until(bar_fits, "bar")
                assert cell_len(str(c.app.query_one(StatusBar).render())) <= width
                assert c.app.query_one(StatusBar).region.width == width
                assert c.input.region.bottom <= height
                if width == 50:
                    assert c.log.entries[-1].height > before
            assert c.log.entries[-1].height == before
            assert c.log.is_vertical_scroll_end

    run(body)


def test_ten_thousand_lines_are_kept_and_each_costs_one_layout() -> None:
    async def body() -> None:
        async with chat() as c:
            log = c.log
            assert log.max_lines == 10_000
            for n in range(10_050):
                log.add(Entry(Kind.PEER, "09:41", "bob", f"line {n}"))
            await c.settle()
            assert len(log.entries) == 10_000  # only the cap is kept
            assert log.entries[0].text == "line 50"
            assert log.entries[-1].text == "line 10049"
            assert log.is_vertical_scroll_end
            before = log.laid_out
            log.add(Entry(Kind.PEER, "09:41", "bob", "one more"))
            assert log.laid_out == before + 1  # one message, one layout: never the whole log
            await c.press("pageup", "pageup")
            top = log.scroll_offset.y
            top_text = log.render_line(0).text
            log.add(Entry(Kind.PEER, "09:41", "bob", "while reading"))
            await c.settle()
            assert len(log.entries) == 10_000
            assert log.unread == 1
            assert log.render_line(0).text == top_text  # what you read stays put
            assert log.scroll_offset.y == top - 1  # (one row left the top of the log)
            c.peer.say("over the network too")
            await c.until(lambda: log.unread == 2, "a network message")

    run(body)
