"""End to end: every way ``confide`` can be misused or fail says so in one line.

Usage errors exit 2, a wrong code 3, network trouble 4, and none of them
shows a traceback (the ``confide`` fixture fails any test whose processes
printed one). Secrets are never taken from, or echoed back from, the
command line. Processes run without a controlling terminal, so a prompt
for a secret is impossible and must be refused rather than hang.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from proc import Launcher, Proc

CODE = "7-abandon-ability-able"
LOOPBACK = ("--bind", "127.0.0.1", "--port", "0", "--plain")


def _fails(proc: Proc, code: int, fragment: str) -> None:
    """The process exits ``code`` with a ``confide: ...`` line containing ``fragment``."""
    assert proc.wait() == code, proc
    lines = [x for x in proc.err_lines if x.startswith("confide: ")]
    assert len(lines) == 1, proc
    assert fragment in lines[0], proc
    assert proc.out == "", proc


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["join", "--at", "127.0.0.1:99999"], "bad port"),
        (["join", "--at", "127.0.0.1:abc"], "bad port"),
        (["join", "--at", ":7100"], "no host"),
        (["join", "--at", "[::1"], "missing ']'"),
        (["host", "--bind", "127.0.0.1", "--words", "1"], "--words"),
        (["host", "--bind", "127.0.0.1", "--words", "99"], "--words"),
        (["host", "--bind", "127.0.0.1", "--port", "70000"], "--port"),
        (["host", "--bind", "127.0.0.1", "--port", "seven"], "--port"),
        (["host", "--port", "-1"], "--port must be between 0 and 65535"),
        (["host", "--tunnel", "x@y", "--tunnel-port", "65536"], "--tunnel-port must be between"),
        (["relay", "--port", "70000"], "--port must be between 0 and 65535"),
        (["relay", "--port", "seven"], "argument --port: invalid int value: 'seven'"),
        (["join", "--at", "127.0.0.1:9", "--password", "--password-file", "x"], "not allowed"),
        (["chat"], "invalid choice"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_usage_errors_exit_2(confide: Launcher, args: list[str], fragment: str) -> None:
    _fails(confide.run(*args, env={"CONFIDE_CODE": CODE}), 2, fragment)


def test_no_arguments_without_a_terminal_exit_2(confide: Launcher) -> None:
    _fails(confide.run(), 2, "no terminal")


def test_help_lists_the_exit_codes(confide: Launcher) -> None:
    proc = confide.run("--help")
    assert proc.wait() == 0
    for line in ("0    the chat ended", "2    usage", "3    wrong code", "4    could not", "130"):
        assert line in proc.out, proc


@pytest.mark.parametrize(
    "code",
    ["not a code", "7-notaword-ability-able", "seven-abandon-ability-able", "7", "7-abandon"],
)
def test_malformed_code_exits_2(confide: Launcher, code: str) -> None:
    proc = confide.run("join", "--at", "127.0.0.1:9", "--plain", env={"CONFIDE_CODE": code})
    _fails(proc, 2, "code")
    assert "connecting" not in proc.err


def test_unreadable_code_file_exits_2(confide: Launcher, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-file"
    _fails(confide.run("join", "--at", "127.0.0.1:9", "--code-file", str(missing)), 2, "code file")


def test_code_file_that_is_a_directory_exits_2(confide: Launcher, tmp_path: Path) -> None:
    _fails(confide.run("join", "--at", "127.0.0.1:9", "--code-file", str(tmp_path)), 2, "code file")


def test_empty_password_file_exits_2(confide: Launcher, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    _fails(confide.run("host", "--password-file", str(empty), *LOOPBACK), 2, "empty")


def test_join_without_code_or_terminal_exits_2(confide: Launcher) -> None:
    proc = confide.run("join", "--at", "127.0.0.1:9", "--plain")
    _fails(proc, 2, "CONFIDE_CODE")
    assert "no terminal" in proc.err


def test_password_without_terminal_or_environment_exits_2(confide: Launcher) -> None:
    _fails(confide.run("host", "--password", *LOOPBACK), 2, "CONFIDE_PASSWORD")


@pytest.mark.parametrize(
    "args",
    [
        ["join", CODE, "--at", "127.0.0.1:9"],
        ["join", "--at", "127.0.0.1:9", *CODE.split("-")],
        [CODE],
    ],
    ids=["after-join", "as-words", "alone"],
)
def test_code_is_never_a_positional_argument_nor_echoed(confide: Launcher, args: list[str]) -> None:
    proc = confide.run(*args)
    _fails(proc, 2, "never taken as an argument")
    assert "ability" not in proc.err
    assert "connecting" not in proc.err


def test_nothing_listening_exits_4(confide: Launcher, closed_port: int) -> None:
    proc = confide.join(f"127.0.0.1:{closed_port}", code=CODE)
    _fails(proc, 4, f"could not connect to 127.0.0.1:{closed_port}")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections (in the kernel) and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_silent_host_times_out_exit_4(confide: Launcher, silent_server: int) -> None:
    proc = confide.join(f"127.0.0.1:{silent_server}", "--handshake-timeout", "1", code=CODE)
    _fails(proc, 4, "timed out after 1 s")


def test_port_in_use_exits_4(confide: Launcher) -> None:
    host = confide.host()
    other = confide.run("host", "--bind", "127.0.0.1", "--port", str(host.port), "--plain")
    _fails(other, 4, f"cannot listen on 127.0.0.1:{host.port}")


def test_code_for_another_room_is_refused_exit_4(confide: Launcher) -> None:
    host = confide.host()
    assert host.code is not None
    nameplate, *words = host.code.split("-")
    other = str(int(nameplate) % 999 + 1)
    proc = confide.join(host, code="-".join([other, *words]))
    _fails(proc, 4, "no such room")
    host.proc.expect_err(r"^a join attempt from .* failed: ")
    assert host.proc.running()


def test_wrong_code_message_and_exit_3(confide: Launcher) -> None:
    host = confide.host()
    assert host.code is not None
    nameplate = host.code.split("-")[0]
    wrong = f"{nameplate}-zoo-zone-zero" if "zoo" not in host.code else f"{nameplate}-able-acid-act"
    _fails(confide.join(host, code=wrong), 3, "wrong code or password")


def test_ctrl_c_while_connecting_exits_130(confide: Launcher, silent_server: int) -> None:
    proc = confide.join(f"127.0.0.1:{silent_server}", code=CODE)
    proc.expect_err(r"^connecting to ")
    proc.interrupt()
    assert proc.wait() == 130, proc
    assert proc.err_lines[-1] == "confide: interrupted", proc


# -- secrets that are not UTF-8 ----------------------------------------------

NOT_UTF8 = os.fsdecode(b"hunter\xff\xfe2")
"""A value whose bytes are not UTF-8 (the str form ``os.environ`` would hold)."""


def _no_byte_positions(proc: Proc) -> None:
    for leak in ("0xff", "position", "codec", "hunter", "\\x"):
        assert leak not in proc.err, proc


@pytest.mark.parametrize("role", ["host", "join"])
def test_password_variable_not_utf8_exits_2(confide: Launcher, role: str) -> None:
    where = LOOPBACK if role == "host" else ("--at", "127.0.0.1:9", "--plain")
    proc = confide.run(role, "--password", *where, env={"CONFIDE_PASSWORD": NOT_UTF8})
    _fails(proc, 2, "CONFIDE_PASSWORD is not valid UTF-8")
    _no_byte_positions(proc)


def test_code_variable_not_utf8_exits_2(confide: Launcher) -> None:
    proc = confide.run("join", "--at", "127.0.0.1:9", "--plain", env={"CONFIDE_CODE": NOT_UTF8})
    _fails(proc, 2, "CONFIDE_CODE is not valid UTF-8")
    _no_byte_positions(proc)
    assert "connecting" not in proc.err


@pytest.mark.parametrize("what", ["password", "code"])
def test_secret_file_not_utf8_exits_2(confide: Launcher, tmp_path: Path, what: str) -> None:
    bad = tmp_path / "secret"
    bad.write_bytes(os.fsencode(NOT_UTF8) + b"\n")
    if what == "password":
        proc = confide.run("host", "--password-file", str(bad), *LOOPBACK)
    else:
        proc = confide.run("join", "--at", "127.0.0.1:9", "--plain", "--code-file", str(bad))
    _fails(proc, 2, f"{what} file {bad} is not valid UTF-8")
    _no_byte_positions(proc)


@pytest.mark.parametrize(
    ("command", "flag", "value", "text"),
    [
        ("join", "--resume-window", "-1", "--resume-window must be between 0 and 86400 seconds"),
        ("join", "--resume-window", "86401", "--resume-window must be between 0 and 86400"),
        ("join", "--resume-window", "nan", "--resume-window must be between 0 and 86400"),
        ("host", "--max-waiting", "0", "--max-waiting must be between 1 and 1000000"),
        ("host", "--max-waiting", "1000001", "--max-waiting must be between 1 and 1000000"),
    ],
)
def test_resume_flags_out_of_range_are_usage_errors(
    command: str, flag: str, value: str, text: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "confide", command, flag, value],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert text in result.stderr
    assert "Traceback" not in result.stderr
