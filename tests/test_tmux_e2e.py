"""End to end: two real full-screen ``confide`` clients in tmux, over loopback.

A private tmux server (its own ``-L`` socket) runs one pane that hosts and one
that joins, each a real terminal, so ``confide`` picks the Textual interface.
Keys go in with ``send-keys`` and the screens are read with ``capture-pane``.
The code reaches the joiner in ``CONFIDE_CODE``, set with ``new-session -e``
(never on a command line). Each side sends a message and must see the other's;
both status bars must show the same SAS. A mention rings the bell (tmux
flags the window). Then both leave cleanly. A room of three (a host and two
joiners, each in its own pane) must show every line on every screen with its
sender, ``✓✓`` once both others have it, three members in each status bar,
a ``/msg`` on its addressee's screen only, and ``the host closed the room``
on both members' screens when the host leaves. A file: ``/send`` in one
client, ``/accept`` in the other, the progress row under the log on both
screens while it runs, and a byte-identical copy in the receiver's
``downloads`` folder (each pane has its own config file). Without tmux on PATH the test
fails with one line saying how to install it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from proc import confide_command
from tools import require

WIDTH, HEIGHT = 100, 30
DEADLINE = 20.0  # seconds for any one thing to appear on a screen


def _pauses() -> Iterator[float]:
    """Pauses between two looks at a pane: 10 ms, doubling up to 100 ms.

    A screen that is already there is seen within milliseconds, and a long
    wait still costs at most ten ``tmux`` commands a second.
    """
    pause = 0.01
    while True:
        yield pause
        pause = min(pause * 2, 0.1)


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
        """Run ``confide ARGS`` in a new detached session; the pane reports the exit status.

        Each pane has a data folder of its own (its identity key and contacts)
        unless ``env`` names one in ``XDG_DATA_HOME``.
        """
        command = shlex.join([*confide_command(), *args])
        script = f'{command}; rc=$?; echo; echo "exit status $rc"; sleep 60'
        env = {"XDG_DATA_HOME": f"{self.config_home}/data-{name}", **(env or {})}  # its own key
        extra = [f"-e{k}={v}" for k, v in env.items()]
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
        for pause in _pauses():
            if time.monotonic() >= deadline:
                break
            shown = self.screen(name)
            found = regex.search(shown)
            if found:
                return found
            time.sleep(pause)
        raise AssertionError(f"{name}: {pattern!r} never appeared; the screen was:\n{shown}")

    def wait_for_flag(self, name: str, flag: str) -> None:
        """Poll (bounded) until the tmux format ``#{flag}`` of the pane's window is 1."""
        deadline = time.monotonic() + DEADLINE
        for pause in _pauses():
            if time.monotonic() >= deadline:
                break
            if self.tmux("display", "-p", "-t", name, f"#{{{flag}}}").strip() == "1":
                return
            time.sleep(pause)
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


ROOM_PANES = ("host", "bob", "carol")


@pytest.mark.slow
def test_three_full_screen_members_see_every_line(tmux: Tmux) -> None:
    tmux.start("host", ["host", "--bind", "127.0.0.1", "--port", "0", "--name", "alice"])
    port = tmux.wait_for("host", r"listening on 127\.0\.0\.1:(\d+)").group(1)
    code = tmux.wait_for("host", r"code: (\S+)").group(1)
    for nick in ("bob", "carol"):
        tmux.start(
            nick,
            ["join", "--at", f"127.0.0.1:{port}", "--name", nick, "--timeout", "10"],
            env={"CONFIDE_CODE": code},
        )
        tmux.wait_for(nick, f"{nick} \u203a")  # its chat screen is up
    tmux.wait_for("host", r"carol joined \(3 members\)")
    for pane, nick in zip(ROOM_PANES, ("alice", "bob", "carol"), strict=True):
        tmux.wait_for(pane, f"{nick} · 3 members")

    for sender, nick in zip(ROOM_PANES, ("alice", "bob", "carol"), strict=True):
        line = f"a line from {nick}"
        tmux.type(sender, line)
        tmux.keys(sender, "Enter")
        for other in ROOM_PANES:
            if other != sender:
                tmux.wait_for(other, rf"{nick} │ {line}")
        tmux.wait_for(sender, rf"✓✓ +{nick} │ {line}")  # both others have it

    tmux.type("bob", "/msg carol just for you")
    tmux.keys("bob", "Enter")
    tmux.wait_for("carol", r"bob │ → you: just for you")
    tmux.wait_for("bob", r"bob │ → carol: just for you")
    tmux.type("host", "after the private line")
    tmux.keys("host", "Enter")
    tmux.wait_for("bob", r"alice │ after the private line")
    tmux.wait_for("carol", r"alice │ after the private line")
    assert "just for you" not in tmux.screen("host")

    tmux.keys("host", "C-c")
    tmux.wait_for("host", r"Leave the chat\?")
    tmux.keys("host", "C-c")
    tmux.wait_for("host", r"exit status 0")
    for member in ("bob", "carol"):
        tmux.wait_for(member, r"the host closed the room")
        tmux.keys(member, "Enter")
        tmux.wait_for(member, r"exit status 0")
    assert "Traceback" not in "".join(tmux.screen(p) for p in ROOM_PANES)


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as source:
        while piece := source.read(1 << 24):
            hasher.update(piece)
    return hasher.hexdigest()


@pytest.mark.slow
def test_a_file_between_two_full_screen_clients_shows_a_progress_row(
    tmux: Tmux, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        for _ in range(16):  # 256 MiB, long enough for the row to be seen
            out.write(os.urandom(1 << 24))
    env = {}
    for nick in ("alice", "bob"):
        conf = tmp_path / f"{nick}.toml"
        conf.write_text(f'downloads = "{tmp_path / nick}"\n')
        env[nick] = {"CONFIDE_CONFIG": str(conf)}
    tmux.start(
        "host", ["host", "--bind", "127.0.0.1", "--port", "0", "--name", "alice"], env=env["alice"]
    )
    port = tmux.wait_for("host", r"listening on 127\.0\.0\.1:(\d+)").group(1)
    code = tmux.wait_for("host", r"code: (\S+)").group(1)
    tmux.start(
        "join",
        ["join", "--at", f"127.0.0.1:{port}", "--name", "bob", "--timeout", "10"],
        env={"CONFIDE_CODE": code, **env["bob"]},
    )
    tmux.wait_for("host", SAS)
    tmux.wait_for("join", SAS)

    tmux.type("join", f"/send {source}")
    tmux.keys("join", "Enter")
    tmux.wait_for("host", r"bob \(not verified\) offers big\.bin \(268\.4 MB\): /accept \(or")
    tmux.wait_for("join", r"you offer big\.bin \(268\.4 MB\) to alice")
    tmux.type("host", "/accept")
    tmux.keys("host", "Enter")
    tmux.wait_for("host", r"↓ big\.bin from bob [━─]{8,} +\d+% · ")
    tmux.wait_for("join", r"↑ big\.bin to alice [━─]{8,} +\d+% · ")
    tmux.wait_for("host", r"received big\.bin \(268\.4 MB\) from bob: saved as")
    tmux.wait_for("join", r"sent big\.bin \(268\.4 MB\) to alice")
    assert "↓ big.bin" not in tmux.screen("host")  # the row went with the transfer
    assert _sha256(tmp_path / "alice" / "big.bin") == _sha256(source)

    tmux.keys("join", "C-c")
    tmux.wait_for("join", r"Leave the chat\?")
    tmux.keys("join", "C-c")
    tmux.wait_for("join", r"exit status 0")
    assert "Traceback" not in tmux.screen("host") + tmux.screen("join")
