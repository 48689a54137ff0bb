"""``--plain`` on a real terminal (pexpect): incoming lines never land on a half-typed line.

The joiner runs in line mode on a pseudo-terminal and has typed part of a
line when the host's message arrives. The message must start on a cleared
line (``\\r`` + erase to end of line) and the half-typed text must be shown
again below it, then finish into one message. Ctrl-C still leaves with 130.
"""

from __future__ import annotations

import io
import os
import re

import pexpect
from proc import Launcher, confide_command, message_line

TIMEOUT = 10


def test_incoming_line_repaints_the_half_typed_line(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    env.update(
        {"XDG_CONFIG_HOME": confide.config_home, "TERM": "xterm", "CONFIDE_CODE": str(host.code)}
    )
    cmd = [*confide_command(), "join", "--at", host.at, "--plain", "--name", "bob"]
    child = pexpect.spawn(cmd[0], cmd[1:], env=env, timeout=TIMEOUT, encoding="utf-8")
    child.logfile_read = io.StringIO()
    try:
        child.expect(r"SAS: \w+")
        host.proc.expect_err(r"^connected to bob ")
        child.send("half typed")
        child.expect_exact("half typed")  # echoed: the joiner holds it
        host.proc.say("incoming words")
        child.expect(r"\d\d:\d\d alice: incoming words\r\n")
        child.expect_exact("half typed")  # shown again, below the message
        shown = child.logfile_read.getvalue()
        assert re.search(r"half typed\r\x1b\[K\d\d:\d\d alice: incoming words\r\nhalf typed", shown)
        assert not re.search(r"half typed\d\d:\d\d alice", shown), repr(shown)
        child.send(" more\r")
        host.proc.expect_out(message_line("bob", "half typed more"))
        child.sendintr()
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 130, child.logfile_read.getvalue()
        host.proc.expect_err(r"^bob left$")
    finally:
        if child.isalive():
            child.terminate(force=True)
        child.close(force=True)


def test_terminal_settings_are_restored_after_the_chat(confide: Launcher) -> None:
    """readline changes the terminal's modes; after confide exits, echo and icanon are back."""
    host = confide.host("--name", "alice")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    env.update(
        {"XDG_CONFIG_HOME": confide.config_home, "TERM": "xterm", "CONFIDE_CODE": str(host.code)}
    )
    cmd = " ".join([*confide_command(), "join", "--at", host.at, "--plain", "--name", "bob"])
    script = f"{cmd}; echo exit=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e icanon"
    child = pexpect.spawn("sh", ["-c", script], env=env, timeout=TIMEOUT, encoding="utf-8")
    try:
        child.expect(r"SAS: \w+")
        host.proc.say("hello")
        child.expect("alice: hello")
        host.proc.say("bye")  # the host leaves while the joiner's readline waits for a line
        child.expect_exact("exit=0")
        child.expect(pexpect.EOF)
        assert sorted((child.before or "").split()) == ["echo", "icanon"], child.before
    finally:
        if child.isalive():
            child.terminate(force=True)
        child.close(force=True)
