"""Each way of reaching a peer loads its modules only when it is used.

Start-up time is most of what a user waits for before a first message, and
every module imported costs some of it. A ``sitecustomize`` put on
``PYTHONPATH`` installs an import hook in each ``confide`` process of these
tests that writes the name of every watched module it imports (LAN discovery
and zeroconf, the relay client, the SSH tunnel, Textual) to a file of its
own, and the host's room modules too. A real line-mode chat, a loopback host
and a joiner with ``--at`` that exchange messages, must load none of them,
except in the host its room modules and the LAN discovery module (which finds
that a loopback host stays quiet, without zeroconf). A control test shows the
hook records a module that a path does load.

The hook also notes when the host prints its ``code:`` line: a host reaches
it without the modules of the session it will run (the room session, the
app's events, the chat core, the line UI and its commands), which it
imports only once the code is out, while the joiner starts.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from proc import Launcher, connected, message_line

WATCHED = (
    "confide.app.room_policy",
    "confide.app.room_session",
    "confide.net.discovery",
    "confide.net.relay_client",
    "confide.net.tunnel",
    "confide.net.sshcmd",
    "zeroconf",
    "textual",
)
SESSION = (
    "confide.app.room_session",
    "confide.app.events",
    "confide.app.core",
    "confide.app.chat",
    "confide.app.transcript",
    "confide.ui.line",
    "confide.ui.commands",
)
"""What a session needs once it runs, and a host not before its code line."""
CODE_SHOWN = "<code line shown>"

HOOK = f'''
import os, sys

WATCHED = {WATCHED + SESSION!r}

class _Recorder:
    """Write each watched module's name to the marker file when it is first imported."""

    def find_spec(self, name, path=None, target=None):
        if name not in sys.modules and any(
            name == w or name.startswith(w + ".") for w in WATCHED
        ):
            with open(os.environ["CONFIDE_IMPORT_MARKER"], "a") as marker:
                marker.write(name + "\\n")
        return None

class _Stderr:
    """Stderr as it was, noting in the marker file when the code line is written."""

    def __init__(self, inner):
        self._inner = inner

    def write(self, text):
        if text.startswith("code: "):
            with open(os.environ["CONFIDE_IMPORT_MARKER"], "a") as marker:
                marker.write({CODE_SHOWN!r} + "\\n")
        return self._inner.write(text)

    def __getattr__(self, name):
        return getattr(self._inner, name)


sys.meta_path.insert(0, _Recorder())
sys.stderr = _Stderr(sys.stderr)
'''


class Recorded:
    """The environment of one recorded process, and what it imported."""

    def __init__(self, site: Path, marker: Path) -> None:
        """Record into ``marker`` with the hook in ``site``."""
        self.marker = marker
        path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
        self.env = {"PYTHONPATH": path, "CONFIDE_IMPORT_MARKER": str(marker)}

    def lines(self) -> list[str]:
        """What the hook wrote: the modules in the order imported, and when the code was shown."""
        if not self.marker.exists():
            return []
        return self.marker.read_text(encoding="utf-8").splitlines()

    def imported(self) -> set[str]:
        """The watched modules of other paths (not ``SESSION``) the process imported."""
        return {name for name in self.lines() if name.startswith(WATCHED)}

    def before_code(self) -> set[str]:
        """The modules imported before the code line was shown (all, if it never was)."""
        lines = self.lines()
        shown = lines.index(CODE_SHOWN) if CODE_SHOWN in lines else len(lines)
        return set(lines[:shown])


@pytest.fixture
def recorder(tmp_path: Path) -> dict[str, Recorded]:
    """A recorder for a host and one for a joiner."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    return {role: Recorded(site, tmp_path / f"{role}.txt") for role in ("host", "join")}


def test_a_direct_chat_loads_no_other_path(
    confide: Launcher, recorder: dict[str, Recorded]
) -> None:
    host = confide.host("--name", "alice", env=recorder["host"].env)
    bob = confide.join(host, "--name", "bob", env=recorder["join"].env)
    connected(host.proc, bob)
    bob.say("hello alice")
    host.proc.expect_out(message_line("bob", "hello alice"))
    host.proc.say("hi bob")
    bob.expect_out(message_line("alice", "hi bob"))
    bob.say("bye")
    assert bob.wait() == 0
    assert host.proc.wait() == 0
    assert recorder["join"].imported() == set()
    host_only = {"confide.app.room_policy", "confide.app.room_session", "confide.net.discovery"}
    assert recorder["host"].imported() <= host_only
    assert CODE_SHOWN in recorder["host"].lines()
    assert recorder["host"].before_code().isdisjoint(SESSION)
    later = {"confide.app.room_session", "confide.app.events", "confide.ui.line"}
    assert later <= set(recorder["host"].lines())  # loaded once the code was out


def test_the_hook_records_what_a_path_loads(
    confide: Launcher, recorder: dict[str, Recorded]
) -> None:
    with socket.socket() as closed:  # bound, never listening: the connect is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        env = {**recorder["join"].env, "CONFIDE_CODE": "7-apple-banana-cherry"}
        joiner = confide.run("join", "--relay", f"127.0.0.1:{port}", "--plain", env=env)
        assert joiner.wait() == 4, joiner.err
    assert "confide.net.relay_client" in recorder["join"].imported()
