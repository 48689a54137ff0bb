"""``confide`` with no arguments: the guided prompt, driven in a real terminal.

pexpect gives the prompt a pseudo-terminal, answers each question, and
types the code at the no-echo prompt. The other side is an ordinary
line-mode process, so the test sees the same chat the flags would give.
The guided host binds all interfaces and advertises on the LAN, so it runs
inside a network namespace of its own that has only loopback: nothing it
sends can leave the test.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator

import netns
import pexpect
import pytest
from proc import Launcher, Proc, confide_command

TIMEOUT = 10


def _spawn(
    argv_prefix: list[str], config_home: str, env: dict[str, str] | None = None
) -> pexpect.spawn[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    clean.update({"XDG_CONFIG_HOME": config_home, "TERM": "xterm", **(env or {})})
    cmd = [*argv_prefix, *confide_command()]
    child = pexpect.spawn(
        cmd[0], cmd[1:], env=clean, encoding="utf-8", timeout=TIMEOUT, dimensions=(30, 100)
    )
    child.logfile_read = io.StringIO()  # everything the terminal showed
    return child


@pytest.fixture
def lonely() -> Iterator[netns.Lan]:
    lan = netns.Lan.lonely()
    try:
        yield lan
    finally:
        lan.destroy()


def _group(child: pexpect.spawn[str]) -> str:
    """The first group of what ``child.expect`` just matched."""
    assert isinstance(child.match, re.Match)
    return str(child.match.group(1))


def _stop(child: pexpect.spawn[str]) -> None:
    if child.isalive():
        child.terminate(force=True)
    child.close(force=True)


def test_guided_join_reaches_the_host_and_hides_the_code(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    assert host.code is not None
    child = _spawn([], confide.config_home)
    try:
        child.expect(re.escape("Host a chat or join one? [H/j]"))
        child.sendline("j")
        child.expect(re.escape("directly or through a relay? [D/r]"))
        child.sendline("d")
        child.expect(re.escape("Host address HOST:PORT (empty: search the LAN)"))
        child.sendline(host.at)
        child.expect("Your name")
        child.sendline("bob")
        child.expect(re.escape("generated code or your own password? [C/p]"))
        child.sendline("c")
        child.expect("code: ")
        child.sendline(host.code)
        host.proc.expect_err(r"^connected to bob ")
        sas = host.proc.expect_err(r"^SAS: (.+)$").group(1)
        child.expect(re.escape(sas.split()[0]))  # the same SAS on the joiner's screen
        host.proc.say("hello guided bob")
        child.expect("hello guided bob")
        assert isinstance(child.logfile_read, io.StringIO)
        shown = child.logfile_read.getvalue()
        assert host.code not in shown  # the code typed at the prompt is never echoed
        words = host.code.split("-")[1:]  # one word alone may be in a prompt ("search")
        assert "-".join(words) not in shown
        assert " ".join(words) not in shown
    finally:
        _stop(child)


def _join_in(confide: Launcher, ns: str, port: str, *args: str, env: dict[str, str]) -> Proc:
    """A line-mode joiner inside ``ns``, for the guided host on ``port`` there."""
    at = f"127.0.0.1:{port}"
    return netns.run_in(confide, ns, "join", "--at", at, "--plain", "--name", "bob", *args, env=env)


def test_guided_host_prints_a_code_that_a_joiner_uses(confide: Launcher, lonely: netns.Lan) -> None:
    ns = lonely.names[0]
    child = _spawn(["ip", "netns", "exec", ns], confide.config_home)
    try:
        for question, answer in (
            ("Host a chat or join one? [H/j]", "h"),
            ("[L/s/r]", "l"),
            ("Port to listen on", "0"),
            ("Your name", "alice"),
            ("[C/p]", ""),  # the default: a generated code
        ):
            child.expect(re.escape(question))
            child.sendline(answer)
        child.expect(r"listening on 0\.0\.0\.0:(\d+)")
        port = _group(child)
        child.expect(r"code: (\d+-\w+-\w+-\w+)")
        joiner = _join_in(confide, ns, port, env={"CONFIDE_CODE": _group(child)})
        joiner.expect_err(r"^connected to alice ")
        joiner.expect_err(r"^SAS: ")
        joiner.say("hi from bob")
        child.expect("hi from bob")
        joiner.say("bye")
        assert joiner.wait() == 0
    finally:
        _stop(child)


def test_guided_password_room(confide: Launcher, lonely: netns.Lan) -> None:
    ns = lonely.names[0]
    child = _spawn(["ip", "netns", "exec", ns], confide.config_home)
    try:
        for question, answer in (
            ("[H/j]: ", "h"),
            ("[L/s/r]: ", "l"),
            ("Port to listen on [7100]: ", "0"),
            ("Your name", "alice"),
            ("[C/p]: ", "p"),
        ):
            child.expect_exact(question)
            child.sendline(answer)
        child.expect_exact("password: ")
        child.sendline("correct horse battery")
        child.expect_exact("password again: ")
        child.sendline("correct horse batery")  # a typo: said, and both asked again
        child.expect_exact("the two passwords differ; try again")
        child.expect_exact("password: ")
        child.sendline("correct horse battery")
        child.expect_exact("password again: ")
        child.sendline("correct horse battery")
        child.expect(r"listening on 0\.0\.0\.0:(\d+)")
        env = {"CONFIDE_PASSWORD": "correct horse battery"}
        joiner = _join_in(confide, ns, _group(child), "--password", env=env)
        joiner.expect_err(r"^connected to alice ")
        joiner.say("bye")
        assert joiner.wait() == 0
    finally:
        _stop(child)


def test_host_password_typed_differently_three_times_gives_up(confide: Launcher) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    env.update({"XDG_CONFIG_HOME": confide.config_home, "TERM": "xterm"})
    cmd = [*confide_command(), "host", "--password", "--bind", "127.0.0.1", "--port", "0"]
    child = pexpect.spawn(cmd[0], [*cmd[1:], "--plain", "--no-discovery"], env=env, timeout=TIMEOUT)
    try:
        for attempt in range(3):
            child.expect_exact("password: ")
            child.sendline(f"first try {attempt}")
            child.expect_exact("password again: ")
            child.sendline(f"second try {attempt}")
        child.expect_exact("the passwords typed did not match 3 times")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 2
        assert b"listening" not in (child.before or b"")
    finally:
        _stop(child)


def test_guided_prompt_without_a_terminal_is_a_usage_error(confide: Launcher) -> None:
    proc = confide.run()
    assert proc.wait() == 2
    assert "no arguments and no terminal" in proc.err
