"""Post-quantum sessions end to end (issue 16): real ``confide`` processes on loopback.

The current confide speaks protocol version 4 (the ML-KEM-768 step after
CPace). The version-3 peer is the real confide too, every layer, started by
``older_confide.py`` (``proc.OLDER``) so that its ``Connection`` offers the
versions of the release before, ``(1, 2, 3)``: exactly the handshake an older
peer runs. Checked: two current peers are post-quantum (nothing extra shown)
with the same SAS; an older host or joiner still chats, and the other side
says ``not post-quantum`` (the ``connected to`` line, ``/who``); ``--require-pq``
refuses an older host with one line and exit 4, and a host with it refuses
an older joiner with a line and waits on for the next; ``send --require-pq``
exits 4 at an older receiver; a room of three marks only its older member;
and a session whose both ends require post-quantum keys resumes after a cut
(a resume without the ML-KEM exchange would be refused there).
"""

from __future__ import annotations

import re
from pathlib import Path

from faultproxy import FaultProxy
from proc import OLDER, Launcher, Proc, connected
from send_receive_support import start_receive, start_send

from confide.errors import EXIT_CONNECT

NOT_PQ = "not post-quantum"
OLDER_LINE = rf"\(end-to-end encrypted, {NOT_PQ}: an older confide\)$"
"""The end of the ``connected to`` line for an older peer."""
REFUSED = (
    "the peer's confide does not do post-quantum key exchange (protocol version 3); "
    "--require-pq refuses it"
)


def said(proc: Proc, pattern: str) -> bool:
    """Whether a stderr line of ``proc`` so far matches ``pattern``."""
    return any(re.search(pattern, line) for line in proc.err_lines)


def who(proc: Proc, nick: str) -> str:
    """Ask ``/who`` and return the answer's line about ``nick``."""
    proc.say("/who")
    return proc.expect_err(rf"^\s*(you: .*|{re.escape(nick)}[ (:].*)$").group(0)


def test_two_current_peers_are_post_quantum_with_the_same_sas(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    bob = confide.join(host, "--name", "bob")
    connected(host.proc, bob)
    assert "connected to alice (end-to-end encrypted)" in bob.err_lines
    assert "connected to bob (end-to-end encrypted)" in host.proc.err_lines
    assert NOT_PQ not in who(bob, "alice")
    bob.say("hello")
    host.proc.expect_out(r"^\d\d:\d\d bob: hello$")
    assert NOT_PQ not in host.proc.err + bob.err
    assert not confide.tracebacks()


def test_an_older_host_still_chats_and_the_joiner_says_not_post_quantum(
    confide: Launcher,
) -> None:
    host = confide.host("--name", "alice", command=OLDER)
    bob = confide.join(host, "--name", "bob")
    connected(host.proc, bob)
    assert said(bob, r"^connected to alice " + OLDER_LINE)
    assert NOT_PQ in who(bob, "alice")
    bob.say("hello")
    host.proc.expect_out(r"^\d\d:\d\d bob: hello$")
    host.proc.say("hi")
    bob.expect_out(r"^\d\d:\d\d alice: hi$")
    assert not confide.tracebacks()


def test_an_older_joiner_still_chats_and_the_host_marks_it(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    bob = confide.join(host, "--name", "bob", command=OLDER)
    connected(host.proc, bob)
    assert said(host.proc, r"^connected to bob " + OLDER_LINE)
    assert NOT_PQ in who(host.proc, "bob")
    host.proc.say("hi")
    bob.expect_out(r"^\d\d:\d\d alice: hi$")
    assert not confide.tracebacks()


def test_require_pq_refuses_an_older_host_with_one_line_and_exit_4(confide: Launcher) -> None:
    host = confide.host("--name", "alice", command=OLDER)
    bob = confide.join(host, "--name", "bob", "--require-pq")
    assert bob.wait() == EXIT_CONNECT == 4
    assert bob.err_lines[-1] == f"confide: {REFUSED}"
    assert [line for line in bob.err_lines if line.startswith("confide:")] == [
        f"confide: {REFUSED}"
    ]
    assert "SAS:" not in bob.err
    host.proc.expect_err(r"^a join attempt from .* failed: ")
    assert host.proc.running(), "the host waits on"
    assert not confide.tracebacks()


def test_require_pq_in_the_config_file_refuses_an_older_host_too(
    confide: Launcher, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("require_pq = true\n")
    host = confide.host("--name", "alice", command=OLDER)
    bob = confide.join(host, "--name", "bob", env={"CONFIDE_CONFIG": str(config)})
    assert bob.wait() == EXIT_CONNECT
    assert bob.err_lines[-1] == f"confide: {REFUSED}"
    assert not confide.tracebacks()


def test_a_host_with_require_pq_refuses_an_older_joiner_and_waits_for_the_next(
    confide: Launcher,
) -> None:
    host = confide.host("--name", "alice", "--require-pq")
    old = confide.join(host, "--name", "old", command=OLDER)
    assert old.wait() == EXIT_CONNECT
    assert "requires post-quantum key exchange (--require-pq)" in old.err
    host.proc.expect_err(rf"^refused a joiner from 127\.0\.0\.1:\d+: {re.escape(REFUSED)}$")
    bob = confide.join(host, "--name", "bob", "--require-pq")
    connected(host.proc, bob)
    assert "connected to alice (end-to-end encrypted)" in bob.err_lines
    assert "wrong code" not in host.proc.err  # the refusal spent no guess
    assert not confide.tracebacks()


def test_send_with_require_pq_exits_4_at_an_older_receiver(
    confide: Launcher, tmp_path: Path
) -> None:
    (tmp_path / "note.txt").write_text("secret plans\n")
    folder = tmp_path / "in"
    folder.mkdir()
    sending = start_send(confide, "--require-pq", str(tmp_path / "note.txt"))
    receiver = start_receive(confide, sending.at, sending.code, folder, command=OLDER)
    assert sending.proc.wait() == EXIT_CONNECT
    sending.proc.expect_err(rf"^refused a joiner from 127\.0\.0\.1:\d+: {re.escape(REFUSED)}$")
    assert receiver.wait() == EXIT_CONNECT
    assert not (folder / "note.txt").exists()
    assert not confide.tracebacks()


def test_a_room_of_three_marks_only_its_older_member(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    bob = confide.join(host, "--name", "bob")
    connected(host.proc, bob)
    carol = confide.join(host, "--name", "carol", command=OLDER)
    host.proc.expect_err(r"^carol joined \(3 members\)$")
    host.proc.expect_err(rf"^carol: {NOT_PQ} \(an older confide: classical keys only\)$")
    carol.expect_err(r"^connected to alice " + OLDER_LINE)
    host.proc.say("/who")
    bob_line = host.proc.expect_err(r"^  bob: SAS .*$").group(0)
    carol_line = host.proc.expect_err(r"^  carol: SAS .*$").group(0)
    assert NOT_PQ not in bob_line
    assert NOT_PQ in carol_line
    host.proc.say("all here")
    bob.expect_out(r"^\d\d:\d\d alice: all here$")
    carol.expect_out(r"^\d\d:\d\d alice: all here$")
    assert NOT_PQ not in bob.err
    assert not confide.tracebacks()


def test_a_session_that_requires_post_quantum_keys_resumes_after_a_cut(
    confide: Launcher,
) -> None:
    host = confide.host("--name", "alice", "--no-discovery", "--require-pq")
    with FaultProxy(("127.0.0.1", host.port)) as proxy:
        bob = confide.join(proxy.at, "--name", "bob", "--require-pq", code=host.code)
        connected(host.proc, bob)
        proxy.reset()
        bob.expect_err(r"lost the connection to alice.*reconnecting…$")
        bob.expect_err(r"^alice is back$", timeout=15)
        bob.say("after the cut")
        host.proc.expect_out(r"^\d\d:\d\d bob: after the cut$")
        host.proc.say("got it")
        bob.expect_out(r"^\d\d:\d\d alice: got it$")
    assert "resume attempt failed" not in host.proc.err
    assert not confide.tracebacks()
