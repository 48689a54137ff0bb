"""The Textual-free logic of the full-screen UI: commands, history, completion, colours, layout."""

from __future__ import annotations

import subprocess
import sys

import pytest
from rich.console import Console

from confide.ui import commands as cmd
from confide.ui.tui.colours import DARK_PALETTE, log_styles, palette_index
from confide.ui.tui.complete import Completer, candidates
from confide.ui.tui.history import History
from confide.ui.tui.render import Entry, Kind, mentions, render_entry, text_column

COMMANDS = list(cmd.COMMANDS)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hello", cmd.Say("hello")),
        ("  ", cmd.Empty()),
        ("bye", cmd.Simple("quit")),
        ("BYE ", cmd.Simple("quit")),
        ("bye now", cmd.Say("bye now")),
        ("/quit", cmd.Simple("quit")),
        ("/help", cmd.Simple("help")),
        ("/who", cmd.Simple("who")),
        ("/clear", cmd.Simple("clear")),
        ("/me waves hello", cmd.Me("waves hello")),
        ("/nick  carol ", cmd.Nick("carol")),
        ("/verify", cmd.Verify(ok=False)),
        ("/verify OK", cmd.Verify(ok=True)),
        ("/verify forget", cmd.Verify(ok=False, forget=True)),
        ("/verify bob", cmd.Verify(ok=False, nick="bob")),
        ("/verify bob ok", cmd.Verify(ok=True, nick="bob")),
        ("/verify Bob FORGET", cmd.Verify(ok=False, nick="Bob", forget=True)),
        ("/msg bob  hi there ", cmd.Msg("bob", "hi there")),
        ("/msg bob line\ntwo", cmd.Msg("bob", "line\ntwo")),
        ("/kick carol", cmd.Kick("carol")),
        ("/code", cmd.Simple("code")),
        ("//etc/passwd is a path", cmd.Say("/etc/passwd is a path")),
        ("line one\nline two", cmd.Say("line one\nline two")),
    ],
)
def test_parse(line: str, expected: cmd.Command) -> None:
    assert cmd.parse(line) == expected


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("/nope", "unknown command /nope"),
        ("/me", "usage: /me ACTION"),
        ("/nick", "usage: /nick NEW"),
        ("/verify bob maybe", "usage: /verify [NICK] [ok|forget]"),
        ("/msg bob", "usage: /msg NICK TEXT"),
        ("/msg", "usage: /msg NICK TEXT"),
        ("/kick", "usage: /kick NICK"),
        ("/kick bob now", "usage: /kick NICK"),
        ("/code now", "/code takes no arguments"),
        ("/quit now", "/quit takes no arguments"),
    ],
)
def test_parse_invalid(line: str, reason: str) -> None:
    result = cmd.parse(line)
    assert isinstance(result, cmd.Invalid)
    assert reason in result.reason


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("bye", cmd.Simple("quit")),
        ("Bye", cmd.Say("Bye")),
        (" bye", cmd.Say(" bye")),
        ("bye now", cmd.Say("bye now")),
        ("/quit", cmd.Simple("quit")),
        ("/me waves", cmd.Me("waves")),
        ("//quit", cmd.Say("/quit")),
    ],
)
def test_parse_in_line_mode_leaves_only_on_the_exact_bye(line: str, expected: cmd.Command) -> None:
    assert cmd.parse(line, exact_bye=True) == expected


def test_line_mode_help_leaves_out_the_screen_commands_and_keys() -> None:
    text = "\n".join(cmd.help_lines(full_screen=False))
    for name in COMMANDS:
        assert (name in text) == (name not in cmd.VISUAL), name
    assert "Shift+Enter" not in text


def test_help_names_every_command() -> None:
    text = "\n".join(cmd.help_lines())
    for name in COMMANDS:
        assert name in text


def test_history_walks_back_and_returns_to_the_draft() -> None:
    h = History(limit=3)
    assert h.back("draft") is None  # nothing yet
    for line in ("a", "b", "b", "", "c", "d"):
        h.add(line)
    assert h.entries == ["b", "c", "d"]  # duplicates in a row and blanks skipped, limit kept
    assert h.forward() is None
    assert h.back("typing") == "d"
    assert h.back("d") == "c"
    assert h.back("c") == "b"
    assert h.back("b") is None
    assert h.forward() == "c"
    assert h.forward() == "d"
    assert h.forward() == "typing"
    assert h.forward() is None


def test_completion_candidates() -> None:
    nicks = ["bob", "Bea", "alice"]
    assert [c.text for c in candidates("b", nicks, COMMANDS)] == ["Bea: ", "bob: "]
    assert [c.text for c in candidates("hi al", nicks, COMMANDS)] == ["alice "]
    assert candidates("hi al", nicks, COMMANDS)[0].start == 3
    assert [c.text for c in candidates("/n", nicks, COMMANDS)] == ["/nick "]
    assert candidates("say /n", nicks, COMMANDS) == []  # commands only at the start
    assert candidates("", nicks, COMMANDS) == []
    assert candidates("x ", nicks, COMMANDS) == []


def test_completer_cycles_on_repeated_tab() -> None:
    c = Completer()
    first = c.complete("b", ["bob", "bea"], COMMANDS)
    second = c.complete(first or "", ["bob", "bea"], COMMANDS)
    third = c.complete(second or "", ["bob", "bea"], COMMANDS)
    assert (first, second, third) == ("bea: ", "bob: ", "bea: ")
    c.reset()
    assert c.complete("zz", ["bob"], COMMANDS) is None


def test_nick_colours_are_stable_across_processes() -> None:
    here = [palette_index(n, len(DARK_PALETTE)) for n in ("alice", "bob", "漢字")]
    code = (
        "from confide.ui.tui.colours import palette_index, DARK_PALETTE;"
        "print([palette_index(n, len(DARK_PALETTE)) for n in ('alice', 'bob', '漢字')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123"},
    ).stdout
    assert out.strip() == str(here)
    styles = log_styles("dark")
    assert styles.nick("alice") == styles.nick("alice")
    assert styles.nick("alice", own=True).underline


def test_mono_styles_have_no_colour() -> None:
    styles = log_styles("mono")
    for name in ("time", "mark", "own_text", "peer_text", "system", "error", "mention", "marker"):
        style = getattr(styles, name)
        assert style.color is None
        assert style.bgcolor is None
    assert all(s.color is None for s in styles.palette)


def test_mentions_match_whole_words_only() -> None:
    assert mentions("hi alice!", "alice")
    assert mentions("ALICE: look", "alice")
    assert not mentions("malice", "alice")
    assert not mentions("alices", "alice")
    assert mentions("ping a.b", "a.b")
    assert not mentions("ping axb", "a.b")  # the nick is literal, not a pattern
    assert not mentions("anything", "")


def test_layout_aligns_wrapped_lines_under_the_text() -> None:
    console = Console(width=80, color_system=None)
    entry = Entry(Kind.PEER, "12:00", "averyveryverylongnickname", "word " * 40)
    rows = render_entry(entry, 80, log_styles("dark"), console)
    col = text_column(80)
    assert len(rows) > 2
    assert all(r.cell_length == 80 for r in rows)
    assert rows[0].text.startswith("12:00")
    assert "…" in rows[0].text[:col]  # a long nick is cut to its column
    for row in rows[1:]:
        assert row.text[: col - 2].strip() == ""
        assert row.text[col - 2 : col] == "│ "
        assert row.text[col] != " "
    own = render_entry(Entry(Kind.OWN, "12:00", "me", "x", id=1), 80, log_styles("dark"), console)
    assert own[0].text[6:8] == "✓ "
    done = Entry(Kind.OWN, "12:00", "me", "x", id=1, delivered=True)
    assert render_entry(done, 80, log_styles("dark"), console)[0].text[6:8] == "✓✓"
