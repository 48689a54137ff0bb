"""Nicks can't be spoofed, with real ``confide`` processes in line mode.

A nick has no control characters, no ``:``, no space at either end and at
most 32 characters: ``--name`` and ``/nick`` refuse anything else with one
line, and what a peer sends is cleaned as it arrives (a raw peer sends what
no confide would). The host is a room: nicks are unique in it, so a joiner
asking for a nick taken there gets a free variant (``NICK2``) and is told,
and a rename to a taken or bad nick is refused.
"""

from __future__ import annotations

import re

import pytest
from proc import Launcher, connected, message_line
from rawpeer import RawPeer

from confide.protocol import messages as m


def test_a_joiner_asking_for_my_nick_gets_a_free_one_and_is_told(confide: Launcher) -> None:
    host = confide.host("--name", "echobot")
    joiner = confide.join(host, "--name", "echobot")
    host.proc.expect_err(r"^connected to echobot2 ")
    connected(host.proc, joiner)
    assert "connected to echobot (end-to-end encrypted)" in joiner.err_lines
    joiner.expect_err(r"^nick 'echobot' is taken here; you are 'echobot2'$")
    joiner.say("who am I")
    host.proc.expect_out(message_line("echobot2", "who am I"))
    host.proc.say("and you")
    joiner.expect_out(message_line("echobot", "and you"))


def test_a_peer_renaming_to_my_nick_is_refused(confide: Launcher) -> None:
    """A peer that is not confide (confide refuses this rename itself) asks for my nick."""
    host = confide.host("--name", "alice")
    assert host.code is not None
    peer = RawPeer.join_code(host.port, host.code)
    try:
        peer.send(m.Nick("bob"))
        host.proc.expect_err(r"^connected to bob ")
        peer.send(m.Nick("Alice"), m.Chat(1, "hello"))
        host.proc.expect_out(message_line("bob", "hello"))
        assert " is now " not in host.proc.err
    finally:
        peer.close()


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("alice: fake", "can't contain ':'"),
        (" alice", "can't start or end with a space"),
        ("a" * 33, "at most 32 characters"),
        ("bell\x07", "control or invisible characters"),
    ],
)
def test_a_bad_name_flag_is_a_usage_error(confide: Launcher, name: str, why: str) -> None:
    proc = confide.run("join", "--at", "127.0.0.1:9", "--plain", "--name", name)
    assert proc.wait() == 2
    lines = proc.err_lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("confide: --name: a nick "), lines
    assert why in lines[0]


def test_nick_command_refuses_a_colon_and_my_peers_nick(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    joiner = confide.join(host, "--name", "bob")
    connected(host.proc, joiner)
    joiner.say("/nick alice: fake")
    joiner.expect_err(r"^nick not changed: a nick can't contain ':'")
    joiner.say("/nick ALICE")
    joiner.expect_err(r"^nick not changed: nick 'ALICE' is taken here$")
    joiner.say("still bob")
    host.proc.expect_out(message_line("bob", "still bob"))
    assert " is now " not in host.proc.err


def test_a_received_nick_is_cleaned(confide: Launcher) -> None:
    """A peer that is not confide joins with a nick with ': ' and control characters."""
    host = confide.host("--name", "bot")
    assert host.code is not None
    peer = RawPeer.join_code(host.port, host.code)
    try:
        peer.send(m.Nick("alice: fake\x1b[2J"), m.Chat(1, "first"))
        line = host.proc.expect_out(r"^.*first$").group(0)
        assert re.fullmatch(r"\d\d:\d\d alice\? fake\?\[2J: first", line), line
        assert line.count(": ") == 1
        peer.send(m.Nick("  " + "x" * 40 + "  "), m.Chat(2, "long"))  # refused: not renamed
        line = host.proc.expect_out(r"^.*long$").group(0)
        assert re.fullmatch(r"\d\d:\d\d alice\? fake\?\[2J: long", line), line
    finally:
        peer.close()


def test_the_full_screen_ui_shows_a_peer_with_my_nick_apart() -> None:
    """The UI shows ``ChatSession.peer_nick``: in the bar and in the log."""
    from tui_harness import chat, run

    from confide.ui.tui.widgets import StatusBar

    async def body() -> None:
        async with chat(nick="echobot", peer_nick="echobot") as c:
            c.peer.say("hi")
            await c.until(lambda: any(x.endswith("echobot~2 │ hi") for x in c.lines()), "hi")
            bar = c.app.query_one(StatusBar).render().plain
            assert "echobot~2" in bar, bar

    run(body)
