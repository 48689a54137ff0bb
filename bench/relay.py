"""Server processes the relay scenarios measure: a real ``confide relay``, and a baseline.

``start_relay`` runs ``confide relay --bind 127.0.0.1 --port 0`` (with the
limits raised so the bench's thousands of loopback connections are not
refused as a flood), waits for ``relay listening on HOST:PORT`` on its
stderr, and returns a ``RelayProcess``; if the relay cannot be started it
returns the reason as a string, which the scenarios report as unavailable.
The relay's stderr goes to a temporary file, so its log lines can never
fill a pipe and stall it. ``RelayProcess.rss`` reads ``VmRSS`` and
``VmHWM`` from ``/proc/PID/status``. ``stop`` ends the process (SIGTERM, then
SIGKILL) and is safe to call twice. ``start_bare_server`` starts the memory
baseline, an asyncio server that only holds connections, the same way.

Every bench connection comes from 127.0.0.1, so the relay is started with
its per-IP, room and join-rate limits lifted (``RELAY_LIMITS``); it raises
its own RLIMIT_NOFILE, and inherits the one ``raise_fd_limit`` raised here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import cpus
from bench.peers import LOOPBACK

READY_TIMEOUT = 10.0
LISTENING = re.compile(r"relay listening on (\S+):(\d+)")


def raise_fd_limit() -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit; return (soft, hard).

    Child processes (the relay) inherit the raised limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def confide_command() -> list[str]:
    """The argv prefix that runs ``confide``: the installed script, else ``python -m``."""
    script = Path(sys.executable).with_name("confide")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "confide"]


@dataclass
class Rss:
    """Resident memory of a process in bytes: now and at its peak."""

    rss: int
    hwm: int


class RelayProcess:
    """One running relay, listening on loopback."""

    def __init__(self, popen: subprocess.Popen[bytes], log: Path, port: int) -> None:
        """Wrap a started relay whose listening port is known."""
        self.popen = popen
        self.log = log
        self.port = port
        self.address = f"{LOOPBACK}:{port}"

    @property
    def pid(self) -> int:
        """The relay's process id."""
        return self.popen.pid

    def rss(self) -> Rss:
        """``VmRSS`` and ``VmHWM`` from ``/proc/PID/status``."""
        fields: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
        return Rss(fields["VmRSS"], fields["VmHWM"])

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.popen.poll() is None

    async def stop(self) -> None:
        """Terminate the relay (SIGTERM, then SIGKILL after 5 s); remove its log."""
        if self.popen.poll() is None:
            self.popen.terminate()
            deadline = time.monotonic() + 5
            while self.popen.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait(5)
        with contextlib.suppress(OSError):
            self.log.unlink()

    def log_tail(self, lines: int = 5) -> str:
        """The last lines the relay printed, for error messages."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


RELAY_LIMITS = [
    *("--max-connections", "60000", "--max-per-ip", "60000", "--max-rooms", "30000"),
    *("--join-burst", "1000", "--join-rate", "60000"),
    *("--room-join-burst", "1001", "--room-join-rate", "60000"),
]
"""Flags that lift the relay's abuse limits: every bench connection comes from 127.0.0.1."""


async def start_relay(extra: list[str] | None = None) -> RelayProcess | str:
    """Start a relay on a free loopback port; the reason as a string if there is none."""
    argv = [*confide_command(), "relay", "--bind", LOOPBACK, "--port", "0", *RELAY_LIMITS]
    started = await start_listener(argv + (extra or []))
    if isinstance(started, str):
        return f"relay unavailable: `confide relay` did not start ({started})"
    return started


BARE_SERVER = """
import asyncio, sys
class Idle(asyncio.Protocol):
    def connection_made(self, transport): transport.write(b'!'); self.transport = transport
    def data_received(self, data): pass
async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Idle, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"relay listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""
"""The least a Python server can hold a connection with: an asyncio Protocol that only says
``!`` once (so the bench can pace its connects to the accepts)."""


BARE_FORWARDER = """
import asyncio, sys
class Side(asyncio.Protocol):
    def __init__(self, peer=None):
        self.peer, self.head, self.transport = peer, b"", None
    def connection_made(self, transport):
        self.transport = transport
        if self.peer is not None:
            self.peer.peer = self
            self.peer.transport.resume_reading()
    def data_received(self, data):
        if self.peer is None:  # the client's first 2 bytes: the port to splice to
            self.head += data
            if len(self.head) >= 2:
                port, rest = int.from_bytes(self.head[:2], "big"), self.head[2:]
                self.transport.pause_reading()
                asyncio.ensure_future(self.splice(port, rest))
            return
        self.peer.transport.write(data)
    def pause_writing(self):  # our send buffer is full: stop reading what fills it
        if self.peer is not None:
            self.peer.transport.pause_reading()
    def resume_writing(self):
        if self.peer is not None:
            self.peer.transport.resume_reading()
    async def splice(self, port, rest):
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: Side(self), "127.0.0.1", port)
        if rest:
            self.peer.transport.write(rest)
    def connection_lost(self, exc):
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()
async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Side, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"relay listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""
"""The least a Python relay can do: splice two TCP connections with asyncio Protocols.

A client sends the port to splice to (2 bytes) and then its stream; the rest
is forwarded both ways unchanged, with asyncio's flow control (a side whose
send buffer is full stops reading the other), as any proxy needs.
"""


async def start_bare_forwarder() -> RelayProcess | str:
    """Start ``BARE_FORWARDER`` as a process: the latency floor for any relay hop."""
    return await start_listener([sys.executable, "-c", BARE_FORWARDER])


async def start_bare_server() -> RelayProcess | str:
    """Start ``BARE_SERVER`` as a process, to compare memory per connection with."""
    return await start_listener([sys.executable, "-c", BARE_SERVER])


async def start_listener(argv: list[str]) -> RelayProcess | str:
    """Run ``argv`` until it prints ``relay listening on HOST:PORT``; why not, as a string."""
    raise_fd_limit()
    fd, name = tempfile.mkstemp(prefix="confide-bench-relay-", suffix=".log")
    log = Path(name)
    try:
        popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=fd
        )
    finally:
        os.close(fd)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        found = LISTENING.search(log.read_text(errors="replace"))
        if found:
            cpus.anywhere(popen.pid)
            return RelayProcess(popen, log, int(found.group(2)))
        if popen.poll() is not None:
            break
        await asyncio.sleep(0.02)
    tail = " / ".join(log.read_text(errors="replace").strip().splitlines()[-2:])
    await RelayProcess(popen, log, 0).stop()
    return tail or "no output"
