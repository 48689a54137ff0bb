"""Relay scale: idle rooms held at once, forwarding under load, meeting under load.

All of it runs against a real ``confide relay`` process on loopback; the bench
speaks the relay's routing frames directly (``bench.rawclient``), so its
own cost per connection stays small. A room with one pair is three
connections, as with real clients: the host's control link, the joiner, and
the host's accepted link.

* ``N idle: added RSS/conn`` (the headline): a fresh relay holds N rooms,
  each with one spliced, silent pair; the growth of its ``VmRSS`` (from
  ``/proc/PID/status``) over the idle process, divided by the 3N
  connections. The baseline, ``N idle: bare added/conn``, is the same for an
  asyncio server that does nothing but hold the same 3N connections: the least
  any Python server can spend on one. ``N idle: peak RSS/conn`` is the
  relay's ``VmHWM`` (peak resident memory) over the connections, against the
  bare server's (``bare peak/conn``); it includes the interpreter, so it
  shrinks as N grows. The bench runs the relay with its per-IP, room and
  connection limits raised (``bench.relay.RELAY_LIMITS``): out of the box a
  relay holds 100 connections per IP address and 1,000 rooms.
* ``forwarding, N active pairs``: every joiner streams 64 KiB writes through
  the relay to its host for a fixed time; the figure is the bytes delivered per
  second, all pairs together. The baseline is the same load generator over N
  pairs spliced by a bare asyncio forwarder process (``bench.relay.BARE_FORWARDER``:
  asyncio Protocols that only pass bytes on), the floor of any Python relay.
  The two take turns, and which goes first alternates from run to run.
* ``relay CPU per GiB forwarded``: the relay process's CPU time in that window
  per GiB delivered; the baseline is the bare forwarder's CPU per GiB in its
  window.
* ``new pair meets, under load``: while that load runs, the time from a new
  host's ``OPEN`` until both ends of a new pair are ``SPLICED``; the baseline
  is the same on an idle relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import rawclient, relay
from bench.core import Config, Figure, Target
from bench.flows import Flow, Load, nothing, stream
from bench.peers import LOOPBACK, SETUP_TIMEOUT, LineProcess

SCENARIO = "relay"
CONNS_PER_PAIR = 3
SETUP_CONCURRENCY = 32
KIB = 1024
SETTLE = 0.1
MEETS = 9
PROBE_TIMEOUT = 60.0


async def _hold(
    server: relay.RelayProcess, pairs: int, make: Callable[[], Awaitable[list[object]]]
) -> list[object]:
    """Make ``pairs`` pairs with at most ``SETUP_CONCURRENCY`` being made at once."""
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)
    held: list[object] = []

    async def one() -> None:
        async with gate:
            held.extend(await make())

    results = await asyncio.gather(*(one() for _ in range(pairs)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        _drop(held)
        raise RuntimeError(f"{len(errors)} of {pairs} pairs failed: {errors[0]!r}")
    return held


def _drop(held: list[object]) -> None:
    for item in held:
        if isinstance(item, rawclient.RawPair):
            item.abort()
        elif isinstance(item, asyncio.StreamWriter):
            item.transport.abort()


async def _idle_rss(levels: tuple[int, ...], bare: bool) -> list[tuple[float, float]]:
    """(peak RSS per connection, added RSS per connection) in KiB at each level."""
    started = await (relay.start_bare_server() if bare else relay.start_relay())
    if isinstance(started, str):
        raise RuntimeError(started)
    server = started
    held: list[socket.socket] = []
    out = []
    try:
        await asyncio.sleep(SETTLE)
        idle = server.rss().rss
        pairs = 0
        for level in sorted(levels):
            if bare:
                add = (level - pairs) * CONNS_PER_PAIR
                await asyncio.to_thread(rawclient.hold_plain, server.port, add, held)
            else:
                await asyncio.to_thread(rawclient.hold_pairs, server.port, level - pairs, held)
            pairs = level
            await asyncio.sleep(SETTLE)
            if not server.alive():
                raise RuntimeError(f"the server died holding {level} pairs")
            rss = server.rss()
            conns = level * CONNS_PER_PAIR
            out.append((rss.hwm / conns / KIB, (rss.rss - idle) / conns / KIB))
        return out
    finally:
        rawclient.close_all(held)
        await server.stop()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Prober(LineProcess):
    """The meet-timing process (``python -m bench.rawclient``), kept for the whole scenario."""

    @classmethod
    async def start(cls) -> Prober:
        """Start the prober process."""
        return cls(await cls.spawn("bench.rawclient"))

    async def meets(self, port: int, count: int) -> float:
        """The median time in ms for a new pair to meet through the relay at ``port``."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(f"{port} {count}\n".encode())
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), PROBE_TIMEOUT)
        if not line:
            raise RuntimeError(f"the meet prober exited ({self.proc.returncode})")
        times = sorted(json.loads(line))
        return float(times[len(times) // 2])


async def _one_raw(server: relay.RelayProcess) -> list[object]:
    return [await rawclient.raw_pair(server.port)]


class Active:
    """What the forwarding runs share: a relay and a bare forwarder, N pairs each, a prober."""

    def __init__(self) -> None:
        """Nothing yet; ``setup`` makes it all."""
        self.server: relay.RelayProcess | None = None
        self.forwarder: relay.RelayProcess | None = None
        self.prober: Prober | None = None
        self.listener: asyncio.Server | None = None
        self.held: list[object] = []
        self.relayed: list[Flow] = []
        self.forwarded: list[Flow] = []

    async def setup(self, pairs: int) -> None:
        """Start the relay, the bare forwarder and the prober; connect ``pairs`` pairs each way."""
        self.server = server = _started(await relay.start_relay())
        self.forwarder = forwarder = _started(await relay.start_bare_forwarder())
        self.prober = await Prober.start()
        self.held = await _hold(server, pairs, lambda: _one_raw(server))
        self.relayed = [
            (p.joiner[1], p.host[0]) for p in self.held if isinstance(p, rawclient.RawPair)
        ]
        accepted: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()

        def on_accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.held.append(writer)
            accepted.put_nowait(reader)

        self.listener = await asyncio.start_server(on_accept, LOOPBACK, 0, backlog=1024)
        port = self.listener.sockets[0].getsockname()[1]
        for _ in range(pairs):  # each one spliced by the forwarder to our listener
            _, writer = await asyncio.open_connection(LOOPBACK, forwarder.port)
            writer.write(port.to_bytes(2, "big"))
            self.held.append(writer)
            reader = await asyncio.wait_for(accepted.get(), SETUP_TIMEOUT)
            self.forwarded.append((writer, reader))

    async def run(self, seconds: float, meets: int, relay_first: bool) -> tuple[Load, Load, float]:
        """(the load through the relay, the load through the bare forwarder, meet ms when idle).

        Each load meters its own forwarding process; ``relay_first`` says
        which of the two windows comes first.
        """
        assert self.server is not None
        assert self.forwarder is not None
        assert self.prober is not None
        server, forwarder, prober = self.server, self.forwarder, self.prober
        idle_meet = await prober.meets(server.port, meets)

        async def through_relay() -> Load:
            return await stream(
                self.relayed,
                seconds,
                lambda: prober.meets(server.port, meets),
                lambda: cpu_seconds(server.pid),
            )

        async def through_forwarder() -> Load:
            return await stream(
                self.forwarded, seconds, nothing, lambda: cpu_seconds(forwarder.pid)
            )

        if relay_first:
            relayed = await through_relay()
            bare = await through_forwarder()
        else:
            bare = await through_forwarder()
            relayed = await through_relay()
        return relayed, bare, idle_meet

    async def close(self) -> None:
        """Drop every connection; stop the prober, the listener, the forwarder and the relay."""
        _drop(self.held)
        if self.prober is not None:
            await self.prober.stop()
        if self.listener is not None:
            self.listener.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.listener.wait_closed(), 2)
        for process in (self.forwarder, self.server):
            if process is not None:
                await process.stop()


def _started(started: relay.RelayProcess | str) -> relay.RelayProcess:
    """The process that started, or an error saying why it did not."""
    if isinstance(started, str):
        raise RuntimeError(started)
    return started


def _meets_per_run(cfg: Config) -> int:
    return 1 if cfg.mode == "tiny" else 5 if cfg.mode == "quick" else MEETS


LIMITS_NOTE = (
    "the relay runs with {flags}; out of the box it allows 100 connections per IP address, "
    "1,000 rooms and 10,000 connections, so it holds at most 1,000 pairs (33 from one address)"
)


def _figures(cfg: Config) -> dict[str, Figure]:
    figs: dict[str, Figure] = {}
    top = max(cfg.idle_pairs)  # the target (5,000 pairs in a full run) is on the largest
    limits = LIMITS_NOTE.format(flags=" ".join(relay.RELAY_LIMITS[:6]))  # per IP, conns, rooms
    for n in sorted(cfg.idle_pairs):
        conns = f"{n * CONNS_PER_PAIR} connections"
        figs[f"added{n}"] = Figure(
            SCENARIO,
            f"{n} idle: added RSS/conn",
            "KiB",
            "lower",
            baseline=f"{n} idle: bare added/conn",
            target=Target("<=", 1.5, ratio=True) if n == top >= 1000 else None,
            note=f"relay VmRSS growth over its idle start / {conns}; {limits}",
        )
        figs[f"bare_added{n}"] = Figure(
            SCENARIO,
            f"{n} idle: bare added/conn",
            "KiB",
            "lower",
            note=f"the same for an asyncio server that only holds {conns}",
        )
        figs[f"peak{n}"] = Figure(
            SCENARIO,
            f"{n} idle: peak RSS/conn",
            "KiB",
            "lower",
            baseline=f"{n} idle: bare peak/conn",
            note=f"relay VmHWM / {conns} (the interpreter included: it shrinks as N grows)",
        )
        figs[f"bare_peak{n}"] = Figure(
            SCENARIO,
            f"{n} idle: bare peak/conn",
            "KiB",
            "lower",
            note=f"VmHWM / {conns} of the asyncio server that only holds them",
        )
    n = cfg.active_pairs
    figs["fwd"] = Figure(
        SCENARIO,
        f"forwarding, {n} active pairs",
        "MiB/s",
        "higher",
        baseline=f"bare forwarder, {n} pairs",
        target=Target(">=", 0.8, ratio=True),
        note=f"64 KiB writes through the relay, all pairs, {cfg.active_seconds:g} s per run",
    )
    figs["bare_fwd"] = Figure(
        SCENARIO,
        f"bare forwarder, {n} pairs",
        "MiB/s",
        "higher",
        note="the same load through a bare asyncio forwarder process, in turns with the relay",
    )
    figs["cpu"] = Figure(
        SCENARIO,
        "relay CPU per GiB forwarded",
        "s",
        "lower",
        baseline="bare forwarder CPU per GiB",
        note="relay process CPU time (/proc/PID/stat) in the window / GiB delivered",
    )
    figs["bare_cpu"] = Figure(
        SCENARIO,
        "bare forwarder CPU per GiB",
        "s",
        "lower",
        note="the bare forwarder's CPU time in its window / GiB delivered",
    )
    figs["busy"] = Figure(
        SCENARIO,
        "new pair meets, under load",
        "ms",
        "lower",
        baseline="new pair meets, relay idle",
        note=f"OPEN to both SPLICED under the load (median of {_meets_per_run(cfg)})",
    )
    figs["idle"] = Figure(
        SCENARIO, "new pair meets, relay idle", "ms", "lower", note="the same on an idle relay"
    )
    return figs


async def run(cfg: Config) -> list[Figure]:
    """Measure every figure, a fresh relay for each part of each run."""
    figs = _figures(cfg)
    probe = await relay.start_relay()
    if isinstance(probe, str):
        for fig in figs.values():
            fig.unavailable = probe
        return list(figs.values())
    await probe.stop()
    soft, _ = relay.raise_fd_limit()
    need = max(cfg.idle_pairs) * CONNS_PER_PAIR + 256
    levels = cfg.idle_pairs
    if soft < need:
        for key, fig in figs.items():
            if key.startswith(("peak", "added", "bare_peak", "bare_added")):
                fig.unavailable = f"RLIMIT_NOFILE is {soft}; holding the pairs needs {need}"
        levels = ()
    meets = _meets_per_run(cfg)
    active = Active()
    try:
        await active.setup(cfg.active_pairs)
        for turn in range(cfg.runs):
            if levels:  # one after the other: together they would need twice the descriptors
                ours = await _idle_rss(levels, bare=False)
                bare = await _idle_rss(levels, bare=True)
                for n, (peak, added), (bare_peak, bare_added) in zip(
                    sorted(levels), ours, bare, strict=True
                ):
                    figs[f"added{n}"].samples.append(added)
                    figs[f"bare_added{n}"].samples.append(bare_added)
                    figs[f"peak{n}"].samples.append(peak)
                    figs[f"bare_peak{n}"].samples.append(bare_peak)
            relayed, bare_load, idle = await active.run(
                cfg.active_seconds, meets, relay_first=turn % 2 == 0
            )
            figs["fwd"].samples.append(relayed.rate)
            figs["bare_fwd"].samples.append(bare_load.rate)
            figs["cpu"].samples.append(relayed.cpu_per_gib)
            figs["bare_cpu"].samples.append(bare_load.cpu_per_gib)
            figs["idle"].samples.append(idle)
            figs["busy"].samples.append(relayed.side)
    finally:
        await active.close()
    return list(figs.values())
