"""Line mode keeps its promises, with real processes on real pipes.

- A side that sends a burst and leaves at once loses none of it.
- ``| head`` is a normal end: the peer is told, nothing is printed, exit 0,
  also when stderr goes into the same pipe (``2>&1 | head``).
- ``connected to NICK`` and ``SAS:`` always come on stderr, even when stdin
  is already at its end (``< /dev/null``) or holds ``bye``: lines piped in
  before the connection is ready are sent once it is.
- Without ``--raw`` only the exact ``bye`` and ``/quit`` leave and
  ``/nick``/``/me`` are commands; with ``--raw`` every line is a message and
  only end of input leaves.
"""

from __future__ import annotations

import os
import select
import subprocess
import time

from proc import DEFAULT_TIMEOUT, Launcher, Proc, confide_command, connected, message_line


def _no_status_after_sas(proc: Proc) -> None:
    """Nothing on stderr after the SAS line: no error, no "output closed"."""
    lines = proc.err_lines
    sas = next(i for i, line in enumerate(lines) if line.startswith("SAS: "))
    assert lines[sas + 1 :] == [], proc


def test_head_ends_the_chat_quietly_with_exit_0(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    joiner = confide.join(host, "--name", "bob", stdout_lines=3)  # `confide join | head -3`
    connected(host.proc, joiner)
    for i in range(6):
        host.proc.say(f"line {i}")
    assert joiner.wait() == 0, joiner
    _no_status_after_sas(joiner)
    got = [line.split(" ", 1)[1] for line in joiner.out_lines]
    assert got == [f"alice: line {i}" for i in range(3)], joiner
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0, host.proc


def test_head_exiting_ends_the_chat_before_anything_more_is_written(confide: Launcher) -> None:
    """``head -1`` exits after one line; the joiner notices without writing again."""
    host = confide.host("--name", "alice")
    joiner = confide.join(host, "--name", "bob", stdout_lines=1)
    connected(host.proc, joiner)
    host.proc.say("only one")
    assert joiner.wait() == 0, joiner
    _no_status_after_sas(joiner)
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0, host.proc


def test_head_while_the_peer_floods_and_leaves(confide: Launcher) -> None:
    """The peer sends a burst and leaves at once: still exit 0 and no error line."""
    for _ in range(3):
        host = confide.host("--name", "alice")
        joiner = confide.join(host, "--name", "bob", stdout_lines=3)
        connected(host.proc, joiner)
        host.proc.write(b"".join(f"burst {i}\n".encode() for i in range(500)))
        host.proc.close_stdin()
        assert joiner.wait() == 0, joiner
        _no_status_after_sas(joiner)
        assert host.proc.wait() == 0, host.proc


def test_every_line_of_a_burst_arrives_when_the_sender_leaves_at_once(confide: Launcher) -> None:
    """``seq 2000 | confide host``: the joiner gets all 2000 and the goodbye, and exits 0.

    The leaving side used to close with the joiner's receipts unread; the
    kernel then reset the connection and the joiner lost the rest
    (``error: connection lost: Broken pipe``, exit 4), with or without ``| head``.
    """
    for _ in range(2):
        host = confide.host("--name", "alice")
        joiner = confide.join(host, "--name", "bob")
        connected(host.proc, joiner)
        host.proc.write(b"".join(f"burst {i}\n".encode() for i in range(2000)))
        host.proc.close_stdin()
        assert joiner.wait() == 0, joiner
        got = [line.split(": ", 1)[1] for line in joiner.out_lines]
        assert got == [f"burst {i}" for i in range(2000)], joiner
        assert joiner.err_lines[-1] == "the host closed the room", joiner
        assert host.proc.wait() == 0, host.proc


def test_stderr_into_the_same_pipe_as_stdout_then_head(confide: Launcher) -> None:
    """``confide join ... 2>&1 | head -4``: status lines share the closed pipe."""
    host = confide.host("--name", "alice")
    read_end, write_end = os.pipe()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    env.update({"CONFIDE_CODE": str(host.code), "XDG_CONFIG_HOME": confide.config_home})
    joiner = subprocess.Popen(
        [*confide_command(), "join", "--at", host.at, "--plain", "--name", "bob"],
        stdin=subprocess.PIPE,
        stdout=write_end,
        stderr=write_end,
        env=env,
        start_new_session=True,
    )
    os.close(write_end)
    try:
        head = _read_lines(read_end, 4)  # connecting, connected, alice's key, SAS
        assert head[2].startswith(b"new contact: "), head
        assert head[3].startswith(b"SAS: "), head
        host.proc.expect_err(r"^SAS: ")
        host.proc.say("one")
        assert _read_lines(read_end, 1)[0].endswith(b" alice: one\n")
        os.close(read_end)  # head -4 is done
        read_end = -1
        host.proc.say("two")
        host.proc.say("three")
        assert joiner.wait(DEFAULT_TIMEOUT) == 0
        host.proc.expect_err(r"^bob left$")
        assert host.proc.wait() == 0, host.proc
    finally:
        if read_end >= 0:
            os.close(read_end)
        if joiner.poll() is None:
            joiner.kill()
            joiner.wait()
        assert joiner.stdin is not None
        joiner.stdin.close()


def _read_lines(fd: int, count: int) -> list[bytes]:
    """Read ``count`` whole lines from ``fd`` (a pipe), waiting at most ``DEFAULT_TIMEOUT``."""
    data = b""
    deadline = time.monotonic() + DEFAULT_TIMEOUT
    while data.count(b"\n") < count:
        left = max(deadline - time.monotonic(), 0)
        assert select.select([fd], [], [], left)[0], f"only got {data!r}"
        chunk = os.read(fd, 1)  # one byte at a time: leave the rest in the pipe
        assert chunk, f"the pipe ended after {data!r}"
        data += chunk
    return data.splitlines(keepends=True)


def test_lines_piped_before_the_connection_are_sent_after_it(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    joiner = confide.join(host, "--name", "bob")
    joiner.write(b"hi\nbye\n")  # like `printf 'hi\nbye\n' | confide join ...`
    joiner.close_stdin()
    assert joiner.wait() == 0, joiner
    joiner.expect_err(r"^connected to alice \(end-to-end encrypted\)$")
    joiner.expect_err(r"^SAS: \w+( \w+){4}$")
    host.proc.expect_out(message_line("bob", "hi"))
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0, host.proc


def test_stdin_at_its_end_still_shows_connected_and_sas(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    joiner = confide.join(host, "--name", "bob")
    joiner.close_stdin()  # like `confide join ... < /dev/null`
    assert joiner.wait() == 0, joiner
    joiner.expect_err(r"^connected to alice \(end-to-end encrypted\)$")
    joiner.expect_err(r"^SAS: ")
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0, host.proc


def _all_arrive(host: Proc, nick: str, texts: list[str]) -> None:
    for text in texts:
        host.expect_out(message_line(nick, text))


def test_only_the_exact_bye_leaves_and_commands_still_work(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    joiner = confide.join(host, "--name", "bob")
    connected(host.proc, joiner)
    joiner.write(b"Bye\n bye\nBYE\nbye now\n/nick mallory\nafter the rename\nbye\nnever sent\n")
    assert joiner.wait() == 0, joiner
    _all_arrive(host.proc, "bob", ["Bye", " bye", "BYE", "bye now"])
    host.proc.expect_err(r"^bob is now mallory$")
    host.proc.expect_out(message_line("mallory", "after the rename"))
    host.proc.expect_err(r"^mallory left$")
    assert host.proc.wait() == 0
    assert "never sent" not in host.proc.out, host.proc


def test_commands_are_read_as_the_full_screen_ui_reads_them(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    joiner = confide.join(host, "--name", "bob")
    sas = connected(host.proc, joiner)
    joiner.write(b"/frobnicate now\n/nick\n/clear\n/copy 2\n//etc/hosts\n")
    host.proc.expect_out(message_line("bob", "/etc/hosts"))
    joiner.expect_err(r"^unknown command /frobnicate \(try /help\); nothing was sent$")
    joiner.expect_err(r"^usage: /nick NEW$")
    joiner.expect_err(r"^/clear only works in the full-screen interface; nothing was sent$")
    joiner.expect_err(r"^/copy only works in the full-screen interface; nothing was sent$")
    joiner.write(b"/help\n/verify\n/verify ok\n/who\n")
    joiner.expect_err(r"^/nick NEW +change your nickname$")
    joiner.expect_err(r"^read these words aloud with alice by voice or in person")
    joiner.expect_err(
        r"^you marked alice verified: their key is a verified contact, in later chats too$"
    )
    joiner.expect_err(r"^you: bob · peer: alice \(verified\)$")
    joiner.close_stdin()
    assert joiner.wait() == 0, joiner
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0
    assert len(host.proc.out_lines) == 1, host.proc  # only the escaped line was sent
    assert "Shift+Enter" not in joiner.err, joiner  # line mode's help has no keys
    assert f"SAS: {sas}" in joiner.err_lines[2:], joiner  # /verify shows it again


def test_raw_sends_every_line_and_only_end_of_input_leaves(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    joiner = confide.join(host, "--name", "bob", "--raw")
    connected(host.proc, joiner)
    texts = ["/nick mallory", "/me waves", "bye", "/quit", "Bye", "still here"]
    joiner.write("".join(f"{t}\n" for t in texts).encode())
    _all_arrive(host.proc, "bob", texts)
    assert joiner.running(), joiner
    assert "mallory" not in host.proc.err, host.proc
    joiner.close_stdin()
    assert joiner.wait() == 0, joiner
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0


def test_raw_and_bye_are_in_the_help(confide: Launcher) -> None:
    for args in (["join", "--help"], ["host", "--help"]):
        proc = confide.run(*args)
        assert proc.wait() == 0
        text = " ".join(proc.out.split())
        assert "--raw" in text, proc
        assert "the exact line 'bye' or '/quit' leaves" in text, proc
        assert "only end of input" in text, proc
