"""Helpers for the relay tests (this module holds no tests of its own).

``start_relay`` runs a real ``confide relay`` on ``127.0.0.1`` port 0 and
reads the port it prints; ``relay_host`` and ``relay_join`` run real
line-mode ``confide host``/``join`` processes through it. The raw helpers
(``connect_from``, ``read_frame``, ``knock``, ``refused_with``) speak to the
relay with bare sockets, to misbehave on purpose; ``connect_from`` picks the
source address, any of 127.0.0.0/8, so one test can play several addresses.
Every process comes from the ``confide`` fixture, which kills them all at the end.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from pathlib import Path

from proc import Launcher, Proc

CLOSE = 0x85
# Reason codes, written out as docs/RELAY.md lists them.
UNKNOWN_ROOM = 1
RATE_LIMITED = 2
TOO_MANY_CONNECTIONS = 4
FRAME_TOO_LARGE = 5
BAD_FRAME = 6
HELLO_TIMEOUT = 7
SHUTDOWN = 9
NO_ANSWER = 12
RELAY_BUSY = 14
ALREADY_WAITING = 15
OPENED = 0x81
INCOMING = 0x82
SPLICED = 0x83


@dataclass
class RunningRelay:
    """A ``confide relay`` process and its port."""

    proc: Proc
    port: int

    @property
    def at(self) -> str:
        """``127.0.0.1:PORT``, for ``--relay``."""
        return f"127.0.0.1:{self.port}"

    def terminate(self) -> int:
        """Send SIGTERM and return the exit status."""
        self.proc.popen.send_signal(signal.SIGTERM)
        return self.proc.wait()


@dataclass
class RelayHosted:
    """A ``confide host --relay`` that printed its code."""

    proc: Proc
    code: str


def start_relay(confide: Launcher, *flags: str) -> RunningRelay:
    """Start a relay on a free loopback port with ``flags``."""
    proc = confide.run("relay", "--bind", "127.0.0.1", "--port", "0", *flags, label="relay")
    port = int(proc.expect_err(r"^relay listening on 127\.0\.0\.1:(\d+)$").group(1))
    return RunningRelay(proc, port)


def relay_host(
    confide: Launcher, at: str | None, *args: str, env: dict[str, str] | None = None
) -> RelayHosted:
    """Start a line-mode host through the relay at ``at`` (None: from env or config)."""
    via = ["--relay", at] if at else []
    proc = confide.run("host", "--plain", *via, *args, env=env, label="host")
    proc.expect_err(r"^relay: 127\.0\.0\.1:\d+$")
    return RelayHosted(proc, proc.expect_err(r"^code: (\d+-\S+)$").group(1))


def relay_join(
    confide: Launcher, at: str | None, code: str, *args: str, env: dict[str, str] | None = None
) -> Proc:
    """Start a line-mode joiner through the relay with ``code`` in ``CONFIDE_CODE``."""
    via = ["--relay", at] if at else []
    full_env = {**(env or {}), "CONFIDE_CODE": code}
    return confide.run("join", "--plain", *via, *args, env=full_env, label="join")


def close_frame(reason: int, retry_after: int = 0) -> bytes:
    """The relay's ``CLOSE`` frame, byte for byte."""
    return bytes((CLOSE, 0, 0, 5, reason)) + retry_after.to_bytes(4, "big")


async def read_to_eof(reader: asyncio.StreamReader, timeout: float) -> bytes:
    """Everything a connection receives until the relay closes it (bounded)."""
    data = bytearray()
    async with asyncio.timeout(timeout):
        while chunk := await reader.read(4096):
            data += chunk
    return bytes(data)


async def refused_with(port: int, send: bytes, timeout: float = 5.0) -> bytes:
    """Connect, send ``send``, and return all the relay says before it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(send)
        await writer.drain()
        return await read_to_eof(reader, timeout)
    finally:
        writer.close()


async def connect_from(
    port: int, source: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the relay on ``127.0.0.1:port`` from the address ``source``."""
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def read_frame(reader: asyncio.StreamReader, timeout: float = 5.0) -> tuple[int, bytes]:
    """The relay's next frame: its type and body."""
    async with asyncio.timeout(timeout):
        head = await reader.readexactly(4)
        return head[0], await reader.readexactly(int.from_bytes(head[1:], "big"))


def join_frame(nameplate: str) -> bytes:
    """A ``JOIN`` frame for ``nameplate``, byte for byte as docs/RELAY.md shows it."""
    return b"\x02" + (1 + len(nameplate)).to_bytes(3, "big") + b"\x01" + nameplate.encode()


async def knock(port: int, nameplate: str, source: str) -> tuple[int, bytes]:
    """``JOIN nameplate`` from ``source``; return the relay's first answer, then hang up."""
    reader, writer = await connect_from(port, source)
    try:
        writer.write(join_frame(nameplate))
        return await read_frame(reader)
    finally:
        writer.close()


def vm_rss(pid: int) -> int:
    """The resident memory of process ``pid`` in bytes (``VmRSS`` in ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")
