"""A transcript, if asked: ``--log FILE`` and ``log_dir``.

End to end with real ``confide`` processes in line mode: the log holds both
sides' messages, actions, renames, the join and the leave, each line dated;
it is created with mode 0600; a path that can't be opened or a file others
can read is a usage error (exit 2) before anything connects; a write that
fails (``/dev/full``) costs one line and the chat goes on. Without ``--log``
nothing is written. The unit tests drive ``Transcript`` with an injected
clock across midnight.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from proc import Launcher, connected, message_line
from test_tmux_e2e import Tmux

from confide.app.events import Connected, Disconnected, MessageIn, MessageOut, PeerLeft
from confide.app.transcript import log_path, open_transcript
from confide.errors import EXIT_CONNECT, ClosedError, RelayClosedError
from confide.ui.texts import disconnect_reason
from confide.wire.routing import Reason

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_log_file_holds_the_whole_chat_with_dates(confide: Launcher, tmp_path: Path) -> None:
    log = tmp_path / "chat.log"
    host = confide.host("--name", "alice", "--log", str(log))
    assert host.proc.err_lines[0] == f"logging the chat to {log}"
    joiner = confide.join(host, "--name", "bob")
    connected(host.proc, joiner)
    joiner.say("hello alice")
    host.proc.expect_out(message_line("bob", "hello alice"))
    host.proc.say("hi bob\x1b[2J")
    joiner.expect_out(message_line("alice", "hi bob^[[2J"))
    host.proc.say("/me waves")
    joiner.expect_out(r"^\d\d:\d\d \* alice waves$")
    joiner.say("/nick robert")
    host.proc.expect_err(r"^bob is now robert$")
    joiner.say("bye")
    assert joiner.wait() == 0
    assert host.proc.wait() == 0
    assert _mode(log) == 0o600
    lines = log.read_text(encoding="utf-8").splitlines()
    assert all(re.match(STAMP, line) for line in lines), lines
    assert [line[20:] for line in lines] == [
        "-- bob joined (end-to-end encrypted)",
        "bob: hello alice",
        "alice: hi bob^[[2J",
        "* alice waves",
        "-- bob is now robert",
        "-- robert left",
    ]
    # a normal chat (all on one day) prints no date line on stdout
    assert not [line for line in host.proc.out_lines if line.startswith("-- ")]


@pytest.fixture
def tmux_server(tmp_path: Path) -> Iterator[Tmux]:
    """A private tmux server, always killed at the end."""
    home = tmp_path / "config"
    home.mkdir()
    server = Tmux(str(home))
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_the_full_screen_ui_logs_too(tmux_server: Tmux, confide: Launcher, tmp_path: Path) -> None:
    log = tmp_path / "tui.log"
    tmux_server.start("host", ["host", "--bind", "127.0.0.1", "--port", "0", "--name", "alice",
                               "--log", str(log)])  # fmt: skip
    port = tmux_server.wait_for("host", r"listening on 127\.0\.0\.1:(\d+)").group(1)
    code = tmux_server.wait_for("host", r"code: (\S+)").group(1)
    bob = confide.join(f"127.0.0.1:{port}", "--name", "bob", code=code)
    connected(bob)
    tmux_server.type("host", "typed in the full-screen UI")
    tmux_server.keys("host", "Enter")
    bob.expect_out(message_line("alice", "typed in the full-screen UI"))
    bob.say("answered from line mode")
    tmux_server.wait_for("host", r"bob │ answered from line mode")
    bob.say("bye")
    assert bob.wait() == 0
    tmux_server.wait_for("host", r"bob left")
    tmux_server.keys("host", "Enter")
    tmux_server.wait_for("host", r"exit status 0")
    assert _mode(log) == 0o600
    lines = [line[20:] for line in log.read_text(encoding="utf-8").splitlines()]
    assert lines == [
        "-- bob joined (end-to-end encrypted)",
        "alice: typed in the full-screen UI",
        "bob: answered from line mode",
        "-- bob left",
    ]


def test_without_log_nothing_is_written(
    confide: Launcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the processes start here
    host = confide.host("--name", "alice")
    joiner = confide.join(host, "--name", "bob")
    connected(host.proc, joiner)
    joiner.say("bye")
    assert joiner.wait() == 0
    assert host.proc.wait() == 0
    assert "logging" not in host.proc.err
    assert list(tmp_path.iterdir()) == []
    assert list(Path(confide.config_home).rglob("*.log")) == []


def test_log_dir_in_the_config(confide: Launcher, tmp_path: Path) -> None:
    logs = tmp_path / "logs" / "confide"
    config = Path(confide.config_home) / "confide" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'log_dir = "{logs}"\n', encoding="utf-8")
    host = confide.host("--name", "alice")
    joiner = confide.join(host, "--name", "bob")
    connected(host.proc, joiner)
    joiner.say("in the dated file")
    host.proc.expect_out(message_line("bob", "in the dated file"))
    joiner.say("bye")
    assert host.proc.wait() == 0
    (log,) = logs.iterdir()
    assert re.fullmatch(r"confide-\d{4}-\d\d-\d\d\.log", log.name)
    assert _mode(logs) == 0o700
    assert _mode(log) == 0o600
    assert "bob: in the dated file" in log.read_text(encoding="utf-8")


def test_an_unwritable_log_is_a_usage_error(confide: Launcher, tmp_path: Path) -> None:
    for bad in (tmp_path / "no" / "such" / "dir.log", tmp_path):
        proc = confide.run("host", "--bind", "127.0.0.1", "--port", "0", "--plain",
                           "--log", str(bad))  # fmt: skip
        assert proc.wait() == 2
        assert len(proc.err_lines) == 1, proc.err_lines
        assert proc.err_lines[0].startswith(f"confide: cannot open the log {bad}: ")


def test_a_log_others_can_read_is_refused(confide: Launcher, tmp_path: Path) -> None:
    log = tmp_path / "shared.log"
    log.write_text("old\n")
    log.chmod(0o644)
    proc = confide.run("host", "--bind", "127.0.0.1", "--port", "0", "--plain",
                       "--log", str(log))  # fmt: skip
    assert proc.wait() == 2
    assert proc.err_lines == [
        f"confide: the log {log} can be read by others (mode 0644): "
        "chmod 600 it or choose another file"
    ]
    assert log.read_text() == "old\n"
    assert _mode(log) == 0o644


def test_a_full_disk_costs_one_line_and_the_chat_goes_on(confide: Launcher) -> None:
    host = confide.host("--name", "alice", "--log", "/dev/full")
    joiner = confide.join(host, "--name", "bob")
    connected(host.proc, joiner)
    host.proc.expect_err(
        r"^confide: cannot write the log /dev/full: No space left on device; "
        r"the chat goes on without a log$"
    )
    joiner.say("still here")
    host.proc.expect_out(message_line("bob", "still here"))
    host.proc.say("me too")
    joiner.expect_out(message_line("alice", "me too"))
    joiner.say("bye")
    assert host.proc.wait() == 0
    assert host.proc.err.count("cannot write the log") == 1


def test_transcript_lines_carry_the_date_across_midnight(tmp_path: Path) -> None:
    times = iter(datetime(2026, 11, 29, 23, 59, 50) + timedelta(seconds=s) for s in (0, 5, 20, 30))
    log = open_transcript(tmp_path / "t.log", now=lambda: next(times))
    before = datetime(2026, 11, 29, 23, 59, 55)
    log.observe(Connected("bob", ("a",) * 5))
    log.observe(MessageOut("alice", "late\nvery late", before, 1))
    log.observe(MessageIn("bob", "early", before, 1, action=True))
    log.observe(PeerLeft("bob", "bye"))
    log.close()
    assert (tmp_path / "t.log").read_text().splitlines() == [
        "2026-11-29 23:59:50 -- bob joined (end-to-end encrypted)",
        "2026-11-29 23:59:55 alice: late",
        "2026-11-29 23:59:55 alice: very late",
        "2026-11-30 00:00:10 * bob early",
        "2026-11-30 00:00:20 -- bob left",
    ]


def test_log_path_prefers_the_flag_and_dates_the_dir_file(tmp_path: Path) -> None:
    day = datetime(2026, 11, 30, 12)
    assert log_path("x.log", str(tmp_path), lambda: day) == Path("x.log")
    assert log_path(None, str(tmp_path), lambda: day) == tmp_path / "confide-2026-11-30.log"
    assert log_path(None, None) is None


def test_a_relay_that_ends_the_chat_is_logged_in_the_ui_words(tmp_path: Path) -> None:
    where = "the relay at relay.example:7200"
    ended = RelayClosedError(Reason.SHUTDOWN, 0, where)
    log = open_transcript(tmp_path / "t.log", now=lambda: datetime(2026, 11, 29, 12, 0, 0))
    log.disconnect_reason = disconnect_reason  # as the CLI sets it
    log.observe(Disconnected(str(ended), EXIT_CONNECT, ended))
    log.observe(Disconnected("connection lost: reset", EXIT_CONNECT, ClosedError("x")))
    log.close()
    assert (tmp_path / "t.log").read_text().splitlines() == [
        f"2026-11-29 12:00:00 -- {where} shut down",
        "2026-11-29 12:00:00 -- connection lost: reset",
    ]


def test_a_room_is_logged_with_who_came_went_and_whispered(tmp_path: Path) -> None:
    from confide.app.events import (
        MemberJoined,
        MemberLeft,
        MemberRenamed,
        Notice,
        PrivateIn,
        PrivateOut,
        RoomClosed,
    )

    when = datetime(2026, 12, 5, 1, 0, 0)
    log = open_transcript(tmp_path / "t.log", now=lambda: when)
    for event in (
        MemberJoined("carol"),
        PrivateIn("carol", "psst\x1b[2J", when, 4),
        PrivateOut("carol", "hi", when, 2),
        MemberRenamed("carol", "caz"),
        Notice("nick 'bob' is taken here"),
        MemberLeft("caz", "kicked"),
        MemberLeft("dave", "left"),
        RoomClosed("the host closed the room"),
    ):
        log.observe(event)
    log.close()
    lines = (tmp_path / "t.log").read_text(encoding="utf-8").splitlines()
    assert [line[20:] for line in lines] == [
        "-- carol joined",
        "carol → you: psst^[[2J",
        "you → carol: hi",
        "-- carol is now caz",
        "-- nick 'bob' is taken here",
        "-- caz left: kicked",
        "-- dave left",
        "-- the host closed the room",
    ]
