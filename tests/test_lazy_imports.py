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

HOOK = f'''
import os, sys

WATCHED = {WATCHED!r}

class _Recorder:
    """Write each watched module's name to the marker file when it is first imported."""

    def find_spec(self, name, path=None, target=None):
        if name not in sys.modules and any(
            name == w or name.startswith(w + ".") for w in WATCHED
        ):
            with open(os.environ["CONFIDE_IMPORT_MARKER"], "a") as marker:
                marker.write(name + "\\n")
        return None

sys.meta_path.insert(0, _Recorder())
'''


class Recorded:
    """The environment of one recorded process, and what it imported."""

    def __init__(self, site: Path, marker: Path) -> None:
        """Record into ``marker`` with the hook in ``site``."""
        self.marker = marker
        path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
        self.env = {"PYTHONPATH": path, "CONFIDE_IMPORT_MARKER": str(marker)}

    def imported(self) -> set[str]:
        """The watched modules the process imported."""
        if not self.marker.exists():
            return set()
        return set(self.marker.read_text(encoding="utf-8").split())


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
