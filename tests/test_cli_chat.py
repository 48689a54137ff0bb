"""End to end: two real ``confide`` processes chat on loopback in line mode.

A host and a joiner (by code, then by password file or ``CONFIDE_PASSWORD``)
exchange messages both ways, show the same SAS, and every way of leaving
(``bye``, ``/quit``, end of input, Ctrl-C) ends both sides cleanly with the
documented exit codes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from proc import Hosted, Launcher, Proc, connected, message_line

SAS_LINE = re.compile(r"^SAS: [a-z]+( [a-z]+){4}$")


def _chat_both_ways(host: Proc, joiner: Proc) -> str:
    """Check the SAS and one message each way; return the SAS."""
    sas = connected(host, joiner)
    joiner.say("hello alice, from bob")
    host.expect_out(message_line("bob", "hello alice, from bob"))
    host.say("hi bob! ünïcödé ✓")
    joiner.expect_out(message_line("alice", "hi bob! ünïcödé ✓"))
    return sas


def _start_pair(confide: Launcher) -> tuple[Hosted, Proc]:
    host = confide.host("--name", "alice")
    joiner = confide.join(host, "--name", "bob")
    _chat_both_ways(host.proc, joiner)
    return host, joiner


def test_host_prints_listening_and_code_lines(confide: Launcher) -> None:
    host = confide.host("--name", "alice", "--words", "4")
    assert host.port > 0
    assert host.code is not None
    assert re.fullmatch(r"\d{1,3}(-[a-z]+){4}", host.code), host.code
    first_two = host.proc.err_lines[:2]
    assert first_two == [f"listening on 127.0.0.1:{host.port}", f"code: {host.code}"]


def test_code_chat_both_ways_then_joiner_says_bye(confide: Launcher) -> None:
    host, joiner = _start_pair(confide)
    assert SAS_LINE.match(next(x for x in joiner.err_lines if x.startswith("SAS:")))
    joiner.say("second line")
    joiner.say("bye")
    host.proc.expect_out(message_line("bob", "second line"))
    assert joiner.wait() == 0
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0
    assert host.proc.out_lines == [
        line for line in host.proc.out_lines if re.match(r"^\d\d:\d\d bob: ", line)
    ]
    assert "bye" not in host.proc.out


def test_host_says_bye_and_joiner_sees_it(confide: Launcher) -> None:
    host, joiner = _start_pair(confide)
    host.proc.say("bye")
    assert host.proc.wait() == 0
    joiner.expect_err(r"^the host closed the room$")
    assert joiner.wait() == 0


def test_each_session_has_its_own_sas(confide: Launcher) -> None:
    first = confide.host("--name", "alice")
    sas_one = connected(first.proc, confide.join(first, "--name", "bob"))
    second = confide.host("--name", "alice")
    sas_two = connected(second.proc, confide.join(second, "--name", "bob"))
    assert sas_one != sas_two


def test_quit_command_leaves(confide: Launcher) -> None:
    host, joiner = _start_pair(confide)
    joiner.say("/quit")
    assert joiner.wait() == 0
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0


def test_end_of_input_leaves_after_sending_the_last_line(confide: Launcher) -> None:
    host, joiner = _start_pair(confide)
    joiner.write(b"a last line without newline")
    joiner.close_stdin()
    assert joiner.wait() == 0
    host.proc.expect_out(message_line("bob", "a last line without newline"))
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0


def test_ctrl_c_exits_130_and_peer_sees_leave(confide: Launcher) -> None:
    host, joiner = _start_pair(confide)
    joiner.interrupt()
    assert joiner.wait() == 130
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0


def test_ctrl_c_on_the_host_exits_130(confide: Launcher) -> None:
    host, joiner = _start_pair(confide)
    host.proc.interrupt()
    assert host.proc.wait() == 130
    joiner.expect_err(r"^the host closed the room$")
    assert joiner.wait() == 0


def test_ctrl_c_while_host_waits_exits_130(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    host.proc.interrupt()
    assert host.proc.wait() == 130
    assert "interrupted" in host.proc.err


def test_me_action_and_nick_change(confide: Launcher) -> None:
    host, joiner = _start_pair(confide)
    joiner.say("/me waves")
    host.proc.expect_out(r"^\d\d:\d\d \* bob waves$")
    joiner.say("/nick robert")
    joiner.expect_err(r"^you are now robert$")
    host.proc.expect_err(r"^bob is now robert$")
    joiner.say("still me")
    host.proc.expect_out(message_line("robert", "still me"))


def test_peer_text_is_made_inert(confide: Launcher) -> None:
    host, joiner = _start_pair(confide)
    joiner.say("red \x1b[31malert\x1b[0m bell\x07")
    line = host.proc.expect_out(r"bob: red").string
    assert "\x1b" not in line
    assert "\x07" not in line


def test_oversized_line_is_refused_locally_and_chat_goes_on(confide: Launcher) -> None:
    host, joiner = _start_pair(confide)
    joiner.say("x" * 100_000)
    joiner.expect_err(r"^not sent: message too long \(.*\)$")
    joiner.say("after the big one")
    host.proc.expect_out(message_line("bob", "after the big one"))
    assert not any("xxxxxxxx" in line for line in host.proc.out_lines)
    joiner.say("bye")
    assert joiner.wait() == 0
    assert host.proc.wait() == 0


def test_many_lines_arrive_in_order(confide: Launcher) -> None:
    host, joiner = _start_pair(confide)
    joiner.write(b"".join(f"line {i}\n".encode() for i in range(200)))
    host.proc.expect_out(message_line("bob", "line 199"))
    got = [line.split(": ", 1)[1] for line in host.proc.out_lines if "bob: line " in line]
    assert got == [f"line {i}" for i in range(200)]


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text("correct horse battery staple\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def test_password_file_on_both_sides(confide: Launcher, password_file: Path) -> None:
    host = confide.host("--name", "alice", "--password-file", str(password_file), with_code=False)
    joiner = confide.join(host, "--name", "bob", "--password-file", str(password_file), code="")
    _chat_both_ways(host.proc, joiner)
    assert not any(line.startswith("code:") for line in host.proc.err_lines)
    joiner.say("bye")
    assert joiner.wait() == 0
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0


def test_password_from_environment(confide: Launcher) -> None:
    env = {"CONFIDE_PASSWORD": "our own secret"}
    host = confide.host("--name", "alice", "--password", env=env, with_code=False)
    joiner = confide.join(host, "--name", "bob", "--password", code="", env=env)
    _chat_both_ways(host.proc, joiner)
    host.proc.say("/quit")
    assert host.proc.wait() == 0
    joiner.expect_err(r"^the host closed the room$")
    assert joiner.wait() == 0


def test_wrong_password_file_is_refused(
    confide: Launcher, password_file: Path, tmp_path: Path
) -> None:
    host = confide.host("--name", "alice", "--password-file", str(password_file), with_code=False)
    wrong = tmp_path / "wrong"
    wrong.write_text("incorrect horse\n", encoding="utf-8")
    joiner = confide.join(host, "--password-file", str(wrong), code="")
    assert joiner.wait() == 3
    assert "wrong code or password" in joiner.err
    host.proc.expect_err(r"join failed.*\(1/5\)")
    assert host.proc.running()


def test_code_file_and_forgiving_code_spelling(confide: Launcher, tmp_path: Path) -> None:
    host = confide.host("--name", "alice")
    assert host.code is not None
    messy = "  " + host.code.upper().replace("-", "  ") + "  \n"
    code_file = tmp_path / "code"
    code_file.write_text(messy, encoding="utf-8")
    joiner = confide.join(host, "--name", "bob", "--code-file", str(code_file), code="")
    _chat_both_ways(host.proc, joiner)


def test_huge_line_is_dropped_without_buffering_it_whole(confide: Launcher) -> None:
    host, joiner = _start_pair(confide)
    joiner.write(b"y" * (3 << 20) + b"\nafter the huge one\n")
    joiner.expect_err(r"^not sent: a line longer than 1,048,576 bytes$")
    host.proc.expect_out(message_line("bob", "after the huge one"))
    assert not any("yyyyyyyy" in line for line in host.proc.out_lines)
    assert len([x for x in joiner.err_lines if x.startswith("not sent")]) == 1


def test_closed_stdout_ends_the_chat_cleanly(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    joiner = confide.join(host, "--name", "bob", stdout_lines=1)  # like `confide join | head -1`
    connected(host.proc, joiner)
    host.proc.say("one")
    joiner.expect_out(message_line("alice", "one"))
    host.proc.say("two")
    host.proc.say("three")
    assert joiner.wait() == 0, joiner
    assert joiner.err_lines[-1].startswith("SAS: "), joiner  # a normal end: nothing more said
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0
