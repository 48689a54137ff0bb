"""One file from a sending process to a receiving process: ``confide send`` / ``receive``.

``one_transfer`` runs the two commands a user runs, as real processes on
loopback: ``confide send FILE`` (listening on 127.0.0.1, or through the relay
at ``relay``), then, once it has printed its ``code:`` line,
``confide receive --dir D --yes`` with the code in ``CONFIDE_CODE`` (never in
argv). The sender runs on the bench's CPU, the receiver on the other
(``bench.cpus``). Their stderr goes to files, so progress lines can never fill
a pipe and stall them. Both get an empty config folder and no ``CONFIDE_*``
variables, so a user's settings cannot change what is measured.

While they run, the bench polls every ``POLL`` seconds: the receiver's
``VmRSS`` and ``VmHWM`` (``/proc/PID/status``), and whether a file has
appeared in D (the ``.part``, created when the receiver accepts). The result
holds the seconds from that moment to the receiver's exit (hashed, fsynced,
renamed: the transfer), from the receiver's spawn to its exit (what the user
waits, start-up and handshake included), the receiver's peak RSS, and the CPU
time of both processes (from ``RUSAGE_CHILDREN``: the bench reaps no other
child meanwhile; a relay is not counted, it does not end).

``wormhole_transfer`` does the same with magic-wormhole when it is installed
with a mailbox server that can run on loopback (``bench.wormhole``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import cpus
from bench.peers import LOOPBACK
from bench.relay import confide_command

POLL = 0.01
SETUP_TIMEOUT = 30.0
CODE = re.compile(r"code: (\S+)")
LISTENING = re.compile(r"listening on [\d.]+:(\d+)")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one transfer took."""

    transfer: float
    """Seconds from the receiver's first file in D to its exit."""
    wall: float
    """Seconds from the receiver's spawn to its exit."""
    peak_rss: int
    """The receiver's peak resident memory in bytes (``VmHWM``, and the largest ``VmRSS`` seen)."""
    cpu: float
    """CPU seconds of both processes, start-up included (``RUSAGE_CHILDREN``)."""
    path: Path
    """The received file."""


def children_cpu() -> float:
    """CPU seconds of every child process that has ended and been reaped so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds process ``pid`` has used so far, all its threads (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def clean_env(config: Path, code: str = "") -> dict[str, str]:
    """The environment minus ``CONFIDE_*``, with ``config`` as the config folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    env["XDG_CONFIG_HOME"] = str(config)
    if code:
        env["CONFIDE_CODE"] = code
    return env


def memory(pid: int) -> int:
    """The larger of ``VmRSS`` and ``VmHWM`` of process ``pid``, in bytes (0 once it is gone)."""
    peak = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                peak = max(peak, int(value.split()[0]) * 1024)
    return peak


async def wait_for_line(log: Path, pattern: re.Pattern[str], proc: Process) -> re.Match[str]:
    """Poll ``log`` until a line matches ``pattern``; fail if ``proc`` ends first."""
    deadline = time.monotonic() + SETUP_TIMEOUT
    while time.monotonic() < deadline:
        found = pattern.search(log.read_text(errors="replace"))
        if found:
            return found
        if proc.returncode is not None:
            break
        await asyncio.sleep(POLL)
    raise RuntimeError(f"no {pattern.pattern!r} from {proc.name}: {tail(log)}")


def tail(log: Path, lines: int = 3) -> str:
    """The last lines of a log, on one line."""
    with contextlib.suppress(OSError):
        return " / ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    return ""


class Process:
    """A command run with its stderr in a log file."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log: Path) -> None:
        """Wrap a started process; use ``start``."""
        self.name = name
        self.proc = proc
        self.log = log

    @classmethod
    async def start(
        cls,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log: Path,
        *,
        cwd: Path | None = None,
        stdin: bytes = b"",
    ) -> Process:
        """Start ``argv`` with ``stdin`` as its input, stdout discarded and stderr in ``log``."""
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=err,
                env=env,
                cwd=cwd,
            )
        if proc.stdin is not None:
            proc.stdin.write(stdin)
            proc.stdin.close()
        return cls(name, proc, log)

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while it runs."""
        return self.proc.returncode

    async def finish(self, timeout: float) -> None:
        """Wait for a clean exit; a non-zero status or a timeout is an error."""
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise RuntimeError(f"{self.name} did not exit: {tail(self.log)}") from None
        if code != 0:
            raise RuntimeError(f"{self.name} exited with {code}: {tail(self.log)}")

    async def stop(self) -> None:
        """Kill it if it still runs."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()


async def watch(receiver: Process, folder: Path, timeout: float) -> tuple[float, float, int]:
    """Poll until ``receiver`` exits: (first file in ``folder`` at, exit at, peak RSS)."""
    started: float | None = None
    peak = 0
    deadline = time.monotonic() + timeout
    exited = asyncio.ensure_future(receiver.proc.wait())
    while not exited.done():
        now = time.perf_counter()
        peak = max(peak, memory(receiver.proc.pid))
        if started is None and any(folder.iterdir()):
            started = now
        if time.monotonic() > deadline:
            exited.cancel()
            raise RuntimeError(f"{receiver.name} took over {timeout:.0f} s: {tail(receiver.log)}")
        await asyncio.wait({exited}, timeout=POLL)
    ended = time.perf_counter()
    if started is None:  # it was all over within one poll
        started = ended
    return started, ended, peak


def received(folder: Path) -> Path:
    """The one file in ``folder`` (no ``.part`` left behind)."""
    names = sorted(folder.iterdir())
    if len(names) != 1 or names[0].suffix == ".part":
        raise RuntimeError(f"expected one received file in {folder}, found {names}")
    return names[0]


async def one_transfer(source: Path, folder: Path, relay: int, timeout: float) -> Outcome:
    """``confide send source`` to ``confide receive --dir folder``, directly or via ``relay``."""
    with tempfile.TemporaryDirectory(prefix="confide-bench-") as scratch:
        logs = Path(scratch)
        config = logs / "config"
        config.mkdir()
        if relay:
            reach = ["--relay", f"{LOOPBACK}:{relay}"]
            send_args = [*reach, str(source)]
        else:
            send_args = ["--bind", LOOPBACK, "--port", "0", "--no-discovery", str(source)]
        procs: list[Process] = []
        cpu = children_cpu()
        try:
            sender = await Process.start(
                "confide send",
                [*confide_command(), "send", *send_args],
                clean_env(config),
                logs / "send.log",
            )
            procs.append(sender)
            code = (await wait_for_line(sender.log, CODE, sender)).group(1)
            if not relay:
                port = (await wait_for_line(sender.log, LISTENING, sender)).group(1)
                reach = ["--at", f"{LOOPBACK}:{port}"]
            spawned = time.perf_counter()
            receiver = await Process.start(
                "confide receive",
                [*confide_command(), "receive", *reach, "--dir", str(folder), "--yes"],
                clean_env(config, code),
                logs / "receive.log",
            )
            procs.append(receiver)
            cpus.far(receiver.proc.pid)
            started, ended, peak = await watch(receiver, folder, timeout)
            await receiver.finish(SETUP_TIMEOUT)
            await sender.finish(SETUP_TIMEOUT)
            cpu = children_cpu() - cpu
        finally:
            for proc in procs:
                await proc.stop()
    return Outcome(ended - started, ended - spawned, peak, cpu, received(folder))
