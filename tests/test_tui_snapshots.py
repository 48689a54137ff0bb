"""Snapshot tests of the full-screen app (pytest-textual-snapshot).

Each screen is a real chat over loopback TCP, set up in ``run_before``
inside the app's own event loop. The screens are deterministic: the clock is
fixed (09:41), the SAS is fixed, no pings run (no latency ticks), the cursor
does not blink, and every step waits until it is on screen.

The SVGs live in ``tests/__snapshots__/test_tui_snapshots/``; after a
deliberate change, run ``pytest tests/test_tui_snapshots.py --snapshot-update``
and then ``python scripts/update_screenshot.py``, which copies the 80x24 main
screen to ``docs/screenshot.svg`` (the README's picture). The last test here
fails if that copy is stale.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot
from tui_harness import Chat, attach, fixed_settings

from confide.ui.tui.app import ConfideApp

Snap = Callable[..., bool]
ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).resolve().parent / "__snapshots__" / "test_tui_snapshots"
README_SHOT = ROOT / "docs" / "screenshot.svg"

HOSTILE = (
    "\x1b[2J\x1b[H\x1b[1;31mSYSTEM: alice verified\x1b[0m\x07 \u202etxt.exe\n"
    "09:41             • │ bob left\r\x1b]0;owned\x07\x1b[?1049h done"
)


async def _settle(chat: Chat) -> None:
    await chat.settle()
    await chat.pilot.wait_for_scheduled_animations()


async def _conversation(chat: Chat) -> None:
    """A short, typical exchange: text both ways, an action, a mention, a wrapped line."""
    chat.peer.say("hi! did the code work first time?")
    await chat.until(lambda: "first time" in chat.log.entries[-1].text, "bob's line")
    await chat.send("it did. comparing the SAS now")
    await chat.until(lambda: chat.log.entries[-1].delivered, "the receipt")
    chat.peer.act("reads the five words out loud")
    chat.peer.say(
        "orbit velvet canyon mango thistle, and this line is long enough to wrap so "
        "you can see continuation lines stay under the text, alice"
    )
    await chat.until(lambda: chat.log.entries[-1].mention, "the mention")
    await chat.send("/verify ok")
    await chat.send("match. see you tomorrow 👋")
    await chat.until(lambda: chat.log.entries[-1].delivered, "the receipt")
    await _settle(chat)


def _scenario(*steps: Callable[[Chat], Awaitable[None]]) -> Callable[[Pilot[int]], Awaitable[None]]:
    async def run_before(pilot: Pilot[int]) -> None:
        chat = await attach(pilot)
        for step in steps:
            await step(chat)
        await _settle(chat)

    return run_before


def test_main_screen_80x24(snap_compare: Snap) -> None:
    app = ConfideApp(fixed_settings())
    assert snap_compare(app, terminal_size=(80, 24), run_before=_scenario(_conversation))


def test_main_screen_120x40(snap_compare: Snap) -> None:
    app = ConfideApp(fixed_settings())
    assert snap_compare(app, terminal_size=(120, 40), run_before=_scenario(_conversation))


def test_monochrome_theme(snap_compare: Snap) -> None:
    app = ConfideApp(fixed_settings(theme="mono"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=_scenario(_conversation))


async def _wide_and_hostile(chat: Chat) -> None:
    chat.peer.say("日本語のテキストも折り返します。漢字かな交じり文、絵文字🎉👍、全角ＡＢＣ。" * 2)
    await chat.until(lambda: "全角" in chat.log.entries[-1].text, "the wide line")
    await chat.send("한국어도 잘 보여요 🙂 and mixed ASCII")
    await chat.until(lambda: chat.log.entries[-1].delivered, "the receipt")
    chat.peer.say(HOSTILE)
    await chat.until(lambda: "done" in chat.log.entries[-1].text, "the hostile line")


def test_wide_characters_and_escape_sequences(snap_compare: Snap) -> None:
    app = ConfideApp(fixed_settings())
    assert snap_compare(app, terminal_size=(80, 24), run_before=_scenario(_wide_and_hostile))


async def _history_with_unread(chat: Chat) -> None:
    for n in range(30):
        chat.peer.say(f"earlier message {n}")
    await chat.until(lambda: "29" in chat.log.entries[-1].text, "30 lines")
    await chat.press("pageup")
    for n in range(4):
        chat.peer.say(f"new while you read {n}")
    await chat.until(lambda: chat.log.unread == 4, "4 unread")
    await chat.type("a half-typed reply")


def test_unread_marker_and_draft(snap_compare: Snap) -> None:
    app = ConfideApp(fixed_settings())
    assert snap_compare(app, terminal_size=(80, 24), run_before=_scenario(_history_with_unread))


def test_readme_screenshot_is_the_current_main_screen() -> None:
    snapshot = SNAPSHOTS / "test_main_screen_80x24.svg"
    assert snapshot.exists()
    assert README_SHOT.exists(), "run: python scripts/update_screenshot.py"
    assert README_SHOT.read_bytes() == snapshot.read_bytes(), (
        "docs/screenshot.svg is stale: run python scripts/update_screenshot.py"
    )
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/screenshot.svg)" in readme.split("## Interface", 1)[1]
