"""The full-screen UI in a real terminal (tmux) against a real line-mode peer.

The joiner runs full screen in a private tmux server; the host is a real
``confide host --plain`` whose stdout the test reads. What is typed into the
pane (``send-keys``, at full speed, or ``paste-buffer`` as a terminal paste)
must reach the host exactly: nothing merged, nothing lost, no ``^M``. The
pane is also read back with its escapes (``capture-pane -e``): no colour under
``NO_COLOR`` or the mono theme, underlined links, OSC 52 copies landing in a
tmux buffer, and the line left after the screen closes. tmux 3.3 drops OSC 8,
so the links' hyperlinks are read from a pexpect terminal instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from proc import TIME_PREFIX, Hosted, Launcher, confide_command
from test_tmux_e2e import Tmux

DEADLINE = 60.0  # seconds for 300 messages to cross on a loaded 2-core machine


@pytest.fixture
def term() -> Iterator[Tmux]:
    """A private tmux server, always killed at the end."""
    with tempfile.TemporaryDirectory(prefix="confide-tmux-") as home:
        server = Tmux(home)
        try:
            yield server
        finally:
            server.stop()


def join_full_screen(
    term: Tmux, host: Hosted, *extra: str, env: dict[str, str] | None = None
) -> None:
    """Start bob full screen in the pane ``join`` and wait until the chat is up."""
    assert host.code is not None
    term.start(
        "join",
        ["join", "--at", host.at, "--name", "bob", "--timeout", "10", *extra],
        env={"CONFIDE_CODE": host.code, **(env or {})},
    )
    term.wait_for("join", r"SAS \w+")
    host.proc.expect_err(r"^SAS: ")


def received(host: Hosted, nick: str = "bob") -> list[str]:
    """The messages from ``nick`` the host printed so far (without the time)."""
    return _messages(host.proc.out_lines, nick)


def _messages(lines: list[str], nick: str) -> list[str]:
    line = re.compile("^" + TIME_PREFIX + re.escape(nick) + ": (.*)$")
    return [m.group(1) for m in map(line.match, lines) if m]


def wait_received(host: Hosted, count: int, deadline: float = DEADLINE) -> list[str]:
    """Wait (bounded) until the host printed ``count`` messages; all of them."""
    host.proc.wait_out(lambda lines: len(_messages(lines, "bob")) >= count, deadline)
    return received(host)


@pytest.mark.slow
def test_300_messages_typed_at_full_speed_arrive_exactly(confide: Launcher, term: Tmux) -> None:
    host = confide.host("--name", "alice")
    join_full_screen(term, host)
    # The first line alone: a read of six lines or more after a pause is a paste
    # (driver.BURST_IDLE), and on a busy machine the first burst could pile up
    # that way while the new screen is still drawing. Once typing flows, it can't.
    term.type("join", "msg 1")
    term.keys("join", "Enter")
    assert wait_received(host, 1) == ["msg 1"]
    script = (
        'for i in $(seq 2 300); do tmux -L "$1" -f /dev/null send-keys -t join -l "msg $i"; '
        'tmux -L "$1" -f /dev/null send-keys -t join Enter; done'
    )
    subprocess.run(["sh", "-c", script, "sh", term.socket], check=True, timeout=120)
    wanted = [f"msg {i}" for i in range(1, 301)]
    got = wait_received(host, 300)
    assert got == wanted, f"{len(got)} arrived; first difference at {_first_diff(got, wanted)}"


def _first_diff(got: list[str], wanted: list[str]) -> str:
    for index, (a, b) in enumerate(zip(got, wanted, strict=False)):
        if a != b:
            return f"#{index}: {a!r} != {b!r}"
    return f"length {len(got)} != {len(wanted)}"


PASTED = [f"pasted line {n}" for n in range(1, 9)]


def paste(term: Tmux, *flags: str) -> None:
    """Paste ``PASTED`` (eight lines and a trailing newline) into the pane ``join``."""
    term.tmux("set-buffer", "-b", "p", "\n".join(PASTED) + "\n")
    term.tmux("paste-buffer", "-b", "p", "-d", *flags, "-t", "join")


@pytest.mark.slow
@pytest.mark.parametrize("flags", [(), ("-p",)], ids=["unbracketed", "bracketed"])
def test_a_paste_asks_and_arrives_as_one_clean_message(
    confide: Launcher, term: Tmux, flags: tuple[str, ...]
) -> None:
    host = confide.host("--name", "alice")
    join_full_screen(term, host)
    paste(term, *flags)
    term.wait_for("join", r"You pasted 8 lines")
    term.keys("join", "y")
    term.type("join", "after")
    term.keys("join", "Enter")
    got = wait_received(host, len(PASTED) + 1, deadline=20)
    assert got == [*PASTED, "after"]  # one message of eight lines: no ^M, no blank line
    assert not any("^M" in line for line in host.proc.out_lines)


COLOUR = re.compile(r"\x1b\[[0-9;]*(?:[34]8;[25];|(?<=[\[;])(?:3[0-7]|4[0-7]|9[0-7]|10[0-7])[;m])")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["NO_COLOR", "theme"])
def test_no_color_and_mono_send_no_colour_at_all(confide: Launcher, term: Tmux, how: str) -> None:
    host = confide.host("--name", "alice")
    env = {"NO_COLOR": "1"}
    if how == "theme":
        (Path(term.config_home) / "confide").mkdir(parents=True, exist_ok=True)
        (Path(term.config_home) / "confide" / "config.toml").write_text('theme = "mono"\n')
        env = {}
    join_full_screen(term, host, env=env)
    host.proc.say("bob: hello")
    term.wait_for("join", r"alice │ bob: hello")
    shown = term.tmux("capture-pane", "-e", "-p", "-t", "join")
    assert "\x1b[" in shown  # the capture does carry attributes (bold, reverse...)
    assert not COLOUR.findall(shown), sorted(set(COLOUR.findall(shown)))


@pytest.mark.slow
def test_after_the_screen_closes_one_line_says_why_peer_left(confide: Launcher, term: Tmux) -> None:
    host = confide.host("--name", "alice")
    join_full_screen(term, host)
    host.proc.close_stdin()  # the host's input ends: it leaves
    term.wait_for("join", r"the chat is over")
    term.keys("join", "Enter")
    term.wait_for("join", r"(?m)^the host closed the room\s*\n\s*\nexit status 0")


@pytest.mark.slow
def test_after_the_screen_closes_one_line_says_why_connection_lost(
    confide: Launcher, term: Tmux
) -> None:
    host = confide.host("--name", "alice")
    join_full_screen(term, host, "--resume-window", "2")
    host.proc.kill()
    term.wait_for("join", r"lost the connection to alice")
    term.wait_for("join", r"alice did not come back within 2 s")
    term.keys("join", "Enter")
    term.wait_for("join", r"(?m)^error: alice did not come back within 2 s\n\s*\nexit status 4")


@pytest.mark.slow
def test_copy_reaches_the_terminal_clipboard_and_links_are_underlined(
    confide: Launcher, term: Tmux
) -> None:
    host = confide.host("--name", "alice")
    join_full_screen(term, host)
    term.tmux("set", "-g", "set-clipboard", "on")  # tmux keeps what OSC 52 sets as a buffer
    host.proc.say("read https://example.org/x, please")
    term.wait_for("join", r"alice │ read https://example.org/x, please")
    shown = term.tmux("capture-pane", "-e", "-p", "-t", "join")
    underlined = r"\x1b\[(?:[0-9;]*;)?4(?:;[0-9;]*)?mhttps://example\.org/x\x1b"
    assert re.search(underlined, shown)  # the link, not the comma after it
    term.type("join", "/copy")
    term.keys("join", "Enter")
    term.wait_for("join", r"copied 1 message")
    end = time.monotonic() + 10
    while time.monotonic() < end and "example" not in term.tmux("list-buffers"):
        time.sleep(0.1)
    assert term.tmux("show-buffer") == "read https://example.org/x, please"
    assert host.proc.out_lines == []  # /copy is never sent


@pytest.mark.slow
def test_links_reach_the_terminal_as_osc_8(confide: Launcher, tmp_path: Path) -> None:
    host = confide.host("--name", "alice")
    assert host.code is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    env.update({"XDG_CONFIG_HOME": str(tmp_path), "TERM": "xterm-256color"})
    env["CONFIDE_CODE"] = host.code
    cmd = [*confide_command(), "join", "--at", host.at, "--name", "bob", "--timeout", "10"]
    child = pexpect.spawn(cmd[0], cmd[1:], env=env, encoding="utf-8", dimensions=(30, 100))
    try:
        host.proc.expect_err(r"^SAS: ")
        host.proc.say("see https://example.org/x")
        child.expect(r"\x1b\]8;[^;]*;https://example\.org/x\x1b\\", timeout=20)
    finally:
        child.terminate(force=True)
        child.close(force=True)


@pytest.mark.slow
def test_typing_after_a_refused_command_replaces_it_in_a_real_terminal(
    confide: Launcher, term: Tmux
) -> None:
    host = confide.host("--name", "alice")
    join_full_screen(term, host)
    term.type("join", "/foo bar")
    term.keys("join", "Enter")
    term.wait_for("join", r"unknown command /foo")
    term.type("join", "//etc/passwd is a path")  # "//" sends a line starting with "/"
    term.keys("join", "Enter")
    got = wait_received(host, 1)
    assert got == ["/etc/passwd is a path"], got  # never "/foo bar//etc/passwd is a path"
