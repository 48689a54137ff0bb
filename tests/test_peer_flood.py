"""End to end: a peer that knows the code cannot grow our memory.

A ``RawPeer`` completes the real handshake with a real ``confide`` process,
then sends 300,000 pings and never reads a pong. Each pong is a reply we
write; unless reading pauses while our writes are piling up, they pile up
in our memory (on the original code the host grew by about 80 MiB). With
back-pressure the confide process stops reading, TCP flow control stalls
the flood, and its RSS stays within a few MiB of where it started.

The RSS is read once the process has gone idle (its CPU time stopped
moving) after the flood ended or stalled, so a process still working
through a backlog is not measured early.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from proc import Launcher, Proc
from rawpeer import RawPeer

from confide.protocol import codes
from confide.protocol import messages as m

PINGS = 300_000
MAX_GROWTH = 20 * 1024 * 1024
IDLE_TIMEOUT = 60.0


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _rss_once_idle(proc: Proc) -> int:
    """The RSS after the CPU time stopped moving for a while (the backlog is done)."""
    deadline = time.monotonic() + IDLE_TIMEOUT
    ticks, still, peak = _cpu_ticks(proc.pid), 0, 0
    while time.monotonic() < deadline and still < 5:
        time.sleep(0.1)
        peak = max(peak, _rss(proc.pid))
        now = _cpu_ticks(proc.pid)
        still = still + 1 if now == ticks else 0
        ticks = now
    assert still >= 5, f"{proc.label} never went idle\n{proc}"
    return max(peak, _rss(proc.pid))


def _pings() -> Iterator[m.Message]:
    return (m.Ping(n) for n in range(PINGS))


def _assert_bounded(proc: Proc, peer: RawPeer) -> None:
    before = _rss(proc.pid)
    sent = peer.flood(_pings())
    after = _rss_once_idle(proc)
    assert proc.running(), proc
    growth = after - before
    assert growth < MAX_GROWTH, (
        f"{proc.label} grew by {growth / 2**20:.1f} MiB after {sent} pings it could not answer"
    )


def test_ping_flood_does_not_grow_the_host(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    assert host.code is not None
    peer = RawPeer.join_code(host.port, host.code)
    try:
        peer.send(m.Nick("flood"))
        host.proc.expect_err(r"^connected to flood ")
        _assert_bounded(host.proc, peer)
    finally:
        peer.close()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


def test_ping_flood_does_not_grow_the_joiner(confide: Launcher, listener: socket.socket) -> None:
    code = codes.generate("7", 3, secrets.randbelow)
    port = listener.getsockname()[1]
    joiner = confide.join(f"127.0.0.1:{port}", "--name", "bob", code=str(code))
    peer = RawPeer.accept(listener, code.secret, code.nameplate)
    try:
        peer.send(m.Nick("flood"))
        joiner.expect_err(r"^connected to flood ")
        _assert_bounded(joiner, peer)
    finally:
        peer.close()
