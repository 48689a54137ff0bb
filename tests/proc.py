"""Start and drive real ``confide`` processes in end-to-end tests.

A ``Proc`` is one ``confide`` subprocess with pipes on stdin, stdout and
stderr. Two daemon threads read stdout and stderr line by line into lists,
so a test can wait for a line (``expect_out``/``expect_err``, always with a
bounded timeout) without ever blocking on a pipe. Each stream keeps a
cursor: ``expect_*`` searches from the cursor and moves it past the line it
matched, so waiting twice for ``code:`` finds the first and then the second.

A ``Launcher`` (the ``confide`` fixture in ``conftest.py``) starts processes
and kills every one of them when the test ends, whatever happened. Its
``host`` starts ``confide host --bind 127.0.0.1 --port 0 --plain`` and waits
for the ``listening on`` and ``code:`` lines; its ``join`` starts a joiner
with the code in ``CONFIDE_CODE`` (never on the command line). Processes
run in their own session, so they have no controlling terminal and a
SIGINT sent to the test run does not reach them.

Usage::

    def test_chat(confide: Launcher) -> None:
        host = confide.host("--name", "alice")
        bob = confide.join(host, "--name", "bob")
        bob.say("hi")
        host.proc.expect_out(r"^\\d\\d:\\d\\d bob: hi$")
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

DEFAULT_TIMEOUT = 8.0
"""Seconds a test waits for one expected line or exit before failing."""

TIME_PREFIX = r"\d\d:\d\d "
"""What a received message line starts with: ``HH:MM``, then a space."""

_ENV_DROP = ("CONFIDE_CODE", "CONFIDE_PASSWORD", "CONFIDE_DEBUG", "CONFIDE_CONFIG")


def _default_sigint() -> None:
    """In the child: Ctrl-C's default action, even when the suite runs with SIGINT ignored.

    A shell starts background jobs (``./scripts/test &``, nohup) with SIGINT
    ignored, and children inherit that; confide rightly keeps it ignored, so
    ``interrupt`` would do nothing. A user's terminal never starts it that way.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


OLDER = [sys.executable, str(Path(__file__).with_name("older_confide.py"))]
"""The ``command`` of an older confide: protocol versions 1 to 3 (``older_confide.py``)."""


def confide_command() -> list[str]:
    """The argv prefix that runs ``confide``: the installed script, else ``python -m``."""
    script = Path(sys.executable).with_name("confide")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "confide"]


def message_line(nick: str, text: str) -> str:
    """A regex for the stdout line ``HH:MM nick: text`` (the whole line)."""
    return "^" + TIME_PREFIX + re.escape(f"{nick}: {text}") + "$"


class _Stream:
    """The lines of one output pipe, read by a daemon thread."""

    def __init__(
        self, pipe: IO[bytes], cond: threading.Condition, limit: int | None = None
    ) -> None:
        self.limit = limit
        self.lines: list[str] = []
        self.cursor = 0
        self.eof = False
        self._cond = cond
        self._thread = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
        self._thread.start()

    def _pump(self, pipe: IO[bytes]) -> None:
        try:
            for raw in pipe:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                with self._cond:
                    self.lines.append(line)
                    self._cond.notify_all()
                if self.limit is not None and len(self.lines) >= self.limit:
                    pipe.close()  # like `| head -n LIMIT`: the writer gets EPIPE
                    break
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self.eof = True
                self._cond.notify_all()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread.is_alive()


class Proc:
    """One running ``confide`` process with line access to its output."""

    def __init__(
        self,
        args: Iterable[str],
        *,
        env: Mapping[str, str] | None = None,
        label: str = "",
        stdout_lines: int | None = None,
        command: list[str] | None = None,
    ) -> None:
        """Start ``confide ARGS``; ``env`` adds to a copy of the environment (minus secrets).

        With ``stdout_lines=N`` stdout is closed after N lines, as ``| head -n N`` would.
        ``command`` runs instead of ``confide`` (``OLDER``: an older confide).
        """
        self.args = list(args)
        self.label = label or " ".join(self.args[:1])
        full_env = {k: v for k, v in os.environ.items() if k not in _ENV_DROP}
        full_env.update(env or {})
        self.popen = subprocess.Popen(
            [*(command or confide_command()), *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            start_new_session=True,
            preexec_fn=_default_sigint,  # noqa: PLW1509 (one syscall, no locks)
        )
        self._cond = threading.Condition()
        assert self.popen.stdout is not None
        assert self.popen.stderr is not None
        self._out = _Stream(self.popen.stdout, self._cond, stdout_lines)
        self._err = _Stream(self.popen.stderr, self._cond)

    # -- input -----------------------------------------------------------

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def write(self, data: bytes) -> None:
        """Write raw bytes to stdin (ignored if the process already closed it)."""
        stdin = self.popen.stdin
        assert stdin is not None
        try:
            stdin.write(data)
            stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def say(self, line: str) -> None:
        """Type one line (a newline is added)."""
        self.write(line.encode("utf-8") + b"\n")

    def close_stdin(self) -> None:
        """End of input, like Ctrl-D at a terminal."""
        stdin = self.popen.stdin
        assert stdin is not None
        with contextlib.suppress(BrokenPipeError):
            stdin.close()

    def interrupt(self) -> None:
        """Send SIGINT, like Ctrl-C at a terminal."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)

    # -- output ----------------------------------------------------------

    @property
    def out_lines(self) -> list[str]:
        """Every stdout line so far."""
        with self._cond:
            return list(self._out.lines)

    @property
    def err_lines(self) -> list[str]:
        """Every stderr line so far."""
        with self._cond:
            return list(self._err.lines)

    @property
    def out(self) -> str:
        """All of stdout so far, one string."""
        return "\n".join(self.out_lines)

    @property
    def err(self) -> str:
        """All of stderr so far, one string."""
        return "\n".join(self.err_lines)

    def wait_out(self, done: Callable[[list[str]], bool], timeout: float) -> bool:
        """Wait until ``done(every stdout line so far)`` holds, looking again at each new
        line; whether it held before ``timeout`` s passed or the stream ended."""
        with self._cond:
            self._cond.wait_for(lambda: self._out.eof or done(self._out.lines), timeout)
            return done(self._out.lines)

    def expect_out(self, pattern: str, timeout: float = DEFAULT_TIMEOUT) -> re.Match[str]:
        """Wait for a stdout line matching ``pattern`` (``re.search``) after the cursor."""
        return self._expect(self._out, "stdout", pattern, timeout)

    def expect_err(self, pattern: str, timeout: float = DEFAULT_TIMEOUT) -> re.Match[str]:
        """Wait for a stderr line matching ``pattern`` (``re.search``) after the cursor."""
        return self._expect(self._err, "stderr", pattern, timeout)

    def _expect(self, stream: _Stream, name: str, pattern: str, timeout: float) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(stream.cursor, len(stream.lines)):
                    found = regex.search(stream.lines[i])
                    if found:
                        stream.cursor = i + 1
                        return found
                left = deadline - time.monotonic()
                if stream.eof or left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
        why = "the stream ended" if stream.eof else f"{timeout:g} s passed"
        raise AssertionError(f"{self.label}: no {name} line matching {pattern!r}: {why}\n{self}")

    def wait(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Wait for the process to exit and its output to be read; return the exit status."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.label} did not exit within {timeout:g} s\n{self}"
            ) from None
        self._out.join(timeout)
        self._err.join(timeout)
        return code

    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self.popen.poll() is None

    def kill(self) -> None:
        """Kill the process and its session (children such as ``ssh``), reap it; never raises."""
        with contextlib.suppress(OSError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # its own session: pgid == pid
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)
        self._out.join(2)
        self._err.join(2)
        for pipe, stream in (
            (self.popen.stdin, None),
            (self.popen.stdout, self._out),
            (self.popen.stderr, self._err),
        ):
            if stream is not None and stream.alive():
                continue  # closing under a blocked reader thread would deadlock
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        tail_out = "\n".join(f"  | {line}" for line in self.out_lines[-15:])
        tail_err = "\n".join(f"  ! {line}" for line in self.err_lines[-25:])
        return (
            f"--- {self.label} (pid {self.pid}, exit {self.popen.poll()}) confide "
            f"{' '.join(self.args)}\n stdout:\n{tail_out}\n stderr:\n{tail_err}"
        )


@dataclass
class Hosted:
    """A ``confide host`` that has printed where it listens (and its code)."""

    proc: Proc
    port: int
    code: str | None

    @property
    def at(self) -> str:
        """``127.0.0.1:PORT``, what a joiner passes to ``--at``."""
        return f"127.0.0.1:{self.port}"

    def next_code(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Wait for the next ``code:`` line (a retired code's successor) and remember it."""
        self.code = self.proc.expect_err(r"^code: (\S+)$", timeout).group(1)
        return self.code


class Launcher:
    """Starts ``confide`` processes for one test and stops them all afterwards."""

    def __init__(self) -> None:
        """An empty launcher; ``stop_all`` kills what it started.

        Processes get an empty ``XDG_CONFIG_HOME`` of their own, so a
        developer's ``config.toml`` never changes what a test sees, and
        each process an empty ``XDG_DATA_HOME`` of its own (its identity key
        and contacts), unless the test passes one in ``env``.
        """
        self.procs: list[Proc] = []
        self.config_home = tempfile.mkdtemp(prefix="confide-test-config-")
        self.data_homes: list[str] = []

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        label: str = "",
        stdout_lines: int | None = None,
        command: list[str] | None = None,
    ) -> Proc:
        """Start ``confide ARGS`` and track it (``stdout_lines``, ``command``: see ``Proc``)."""
        full_env = {"XDG_CONFIG_HOME": self.config_home, **(env or {})}
        if "XDG_DATA_HOME" not in full_env:
            self.data_homes.append(tempfile.mkdtemp(prefix="confide-test-data-"))
            full_env["XDG_DATA_HOME"] = self.data_homes[-1]
        label = label or (args[0] if args else "confide")
        proc = Proc(args, env=full_env, label=label, stdout_lines=stdout_lines, command=command)
        self.procs.append(proc)
        return proc

    def host(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        with_code: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        command: list[str] | None = None,
    ) -> Hosted:
        """Start a loopback host in line mode and wait for its address (and code).

        ``args`` come after ``host --bind 127.0.0.1 --port 0 --plain``; pass
        ``with_code=False`` for a password room, which prints no code.
        """
        proc = self.run(
            "host", "--bind", "127.0.0.1", "--port", "0", "--plain", *args, env=env, command=command
        )
        port = int(proc.expect_err(r"^listening on 127\.0\.0\.1:(\d+)$", timeout).group(1))
        code = proc.expect_err(r"^code: (\S+)$", timeout).group(1) if with_code else None
        return Hosted(proc, port, code)

    def join(
        self,
        hosted: Hosted | str,
        *args: str,
        code: str | None = None,
        env: Mapping[str, str] | None = None,
        stdout_lines: int | None = None,
        command: list[str] | None = None,
    ) -> Proc:
        """Start a line-mode joiner for ``hosted`` (or an ``--at`` address).

        The code is ``code`` if given, else the host's current code, and goes
        in ``CONFIDE_CODE``; pass ``code=""`` to set none (for password rooms).
        """
        at = hosted.at if isinstance(hosted, Hosted) else hosted
        secret = code if code is not None else (hosted.code if isinstance(hosted, Hosted) else "")
        full_env = dict(env or {})
        if secret:
            full_env["CONFIDE_CODE"] = secret
        return self.run(
            "join",
            "--at",
            at,
            "--plain",
            *args,
            env=full_env,
            label="join",
            stdout_lines=stdout_lines,
            command=command,
        )

    def stop_all(self) -> None:
        """Kill every process still running and reap them all."""
        for proc in self.procs:
            proc.kill()
        shutil.rmtree(self.config_home, ignore_errors=True)
        for data_home in self.data_homes:
            shutil.rmtree(data_home, ignore_errors=True)

    def tracebacks(self) -> list[str]:
        """Labels of processes whose stderr shows a Python traceback."""
        return [str(p) for p in self.procs if "Traceback" in p.err]


def connected(*procs: Proc, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Wait until each process printed its SAS line; return the SAS (the same on all)."""
    seen = {p.expect_err(r"^SAS: (\w+(?: \w+){4})$", timeout).group(1) for p in procs}
    assert len(seen) == 1, f"the SAS lines differ: {seen}"
    return seen.pop()
