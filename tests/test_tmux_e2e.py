"""End to end: two real full-screen ``confide`` clients in tmux, over loopback.

A private tmux server (its own ``-L`` socket) runs one pane that hosts and one
that joins, each a real terminal, so ``confide`` picks the Textual interface.
Keys go in with ``send-keys`` and the screens are read with ``capture-pane``.
The code reaches the joiner in ``CONFIDE_CODE``, set with ``new-session -e``
(never on a command line). Each side sends a message and must see the other's;
both status bars must show the same SAS. A mention rings the bell (tmux
flags the window). Then both leave cleanly. Without tmux on PATH the test
fails with one line saying how to install it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest
from proc import confide_command
from tools import require

WIDTH, HEIGHT = 100, 30
DEADLINE = 20.0  # seconds for any one thing to appear on a screen


class Tmux:
    """A private tmux server for one test."""

    def __init__(self, config_home: str) -> None:
        """A server on a socket of its own; nothing starts until ``start``."""
        self.socket = f"confide-test-{uuid.uuid4().hex[:12]}"
        self.config_home = config_home

    def tmux(self, *args: str) -> str:
        """Run one tmux command against this server; its stdout."""
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", os.devnull, *args],
            capture_output=True,
            text=True,
            timeout=15,
            check=True,
        )
        return done.stdout

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        """Run ``confide ARGS`` in a new detached session; the pane reports the exit status."""
        command = shlex.join([*confide_command(), *args])
        script = f'{command}; rc=$?; echo; echo "exit status $rc"; sleep 60'
        extra = [f"-e{k}={v}" for k, v in (env or {}).items()]
        self.tmux(
            "new-session", "-d", "-s", name, "-x", str(WIDTH), "-y", str(HEIGHT),
            "-e", f"XDG_CONFIG_HOME={self.config_home}", "-e", "TERM=xterm-256color",
            *extra, "sh", "-c", script,
        )  # fmt: skip

    def screen(self, name: str) -> str:
        """What the pane shows now."""
        return self.tmux("capture-pane", "-p", "-t", name)

    def wait_for(self, name: str, pattern: str) -> re.Match[str]:
        """Poll the pane (bounded) until ``pattern`` appears on it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + DEADLINE
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen(name)
            found = regex.search(shown)
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{name}: {pattern!r} never appeared; the screen was:\n{shown}")

    def wait_for_flag(self, name: str, flag: str) -> None:
        """Poll (bounded) until the tmux format ``#{flag}`` of the pane's window is 1."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if self.tmux("display", "-p", "-t", name, f"#{{{flag}}}").strip() == "1":
                return
            time.sleep(0.1)
        raise AssertionError(f"{name}: {flag} never became 1")

    def keys(self, name: str, *keys: str) -> None:
        """Type into the pane: literal text, then named keys such as Enter or C-c."""
        self.tmux("send-keys", "-t", name, *keys)

    def type(self, name: str, text: str) -> None:
        """Type ``text`` literally."""
        self.tmux("send-keys", "-t", name, "-l", text)

    def stop(self) -> None:
        """Kill this server and every process in its panes."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    """A private tmux server, always killed at the end."""
    require("tmux")
    with tempfile.TemporaryDirectory(prefix="confide-tmux-") as home:
        server = Tmux(home)
        try:
            yield server
        finally:
            server.stop()


SAS = r"SAS ((?:[a-z]+ ){4}[a-z]+)"


@pytest.mark.slow
def test_two_full_screen_clients_chat_in_tmux(tmux: Tmux) -> None:
    tmux.start("host", ["host", "--bind", "127.0.0.1", "--port", "0", "--name", "alice"])
    port = tmux.wait_for("host", r"listening on 127\.0\.0\.1:(\d+)").group(1)
    code = tmux.wait_for("host", r"code: (\S+)").group(1)
    tmux.start(
        "join",
        ["join", "--at", f"127.0.0.1:{port}", "--name", "bob", "--timeout", "10"],
        env={"CONFIDE_CODE": code},
    )

    # both are full screen: a status bar with the shield and the SAS, an input prompt
    host_sas = tmux.wait_for("host", SAS).group(1)
    join_sas = tmux.wait_for("join", SAS).group(1)
    assert host_sas == join_sas
    for name, nick in (("host", "alice"), ("join", "bob")):
        screen = tmux.screen(name)
        assert "\U0001f512 e2e" in screen
        assert f"{nick} \u203a" in screen  # the input prompt
        assert "code:" not in screen  # the chat screen replaced the start-up lines

    tmux.type("host", "hello from alice")
    tmux.keys("host", "Enter")
    tmux.wait_for("join", r"alice │ hello from alice")
    tmux.type("join", "hi from bob, 漢字 ok")
    tmux.keys("join", "Enter")
    tmux.wait_for("host", r"bob │ hi from bob, 漢字 ok")
    tmux.wait_for("host", r"✓✓ +alice │ hello from alice")  # delivered
    tmux.wait_for("join", r"✓✓ +bob │ hi from bob")

    # a mention rings the real terminal's bell (tmux flags the window)
    assert tmux.tmux("display", "-p", "-t", "host", "#{window_bell_flag}").strip() == "0"
    tmux.type("join", "alice: are you still there?")
    tmux.keys("join", "Enter")
    tmux.wait_for("host", r"bob │ alice: are you still there\?")
    tmux.wait_for_flag("host", "window_bell_flag")

    tmux.keys("host", "C-c")
    tmux.wait_for("host", r"Leave the chat\?")
    tmux.keys("host", "C-c")
    tmux.wait_for("host", r"exit status 0")
    tmux.wait_for("join", r"the host closed the room")
    tmux.keys("join", "Enter")
    tmux.wait_for("join", r"exit status 0")
    assert "Traceback" not in tmux.screen("host") + tmux.screen("join")
