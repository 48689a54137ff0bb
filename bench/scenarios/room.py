"""Rooms: a real ``confide host`` process as the hub of a room of 50.

The host runs as users run it (``confide host --plain --max-members 50``),
in a process of its own on the far CPU. The members are simulated in the
bench process, each over its own loopback connection with its own CPace
session (``tcp.connect``), acknowledging the stamped lines as a real member
does (one receipt for what arrived together). The host is a member too:
the bench types its lines into its stdin and reads the lines it prints.

* ``load``: every member sends 20 messages/s (the host included), so 1,000
  messages/s come in and 49,000 deliveries/s go out with 50 members. Each
  line carries its send time (the monotonic clock, shared by processes on
  one machine), so each receiver measures the delay from send to its own
  screen. Reported: messages lost (every member must see every other
  member's every line), latency p50/p99 over all deliveries, and the
  host's CPU time per 1,000 deliveries (from ``/proc``).
* ``peak``: the members (not the host) send in rounds, ``BATCH`` lines each
  per round, and a round ends when every member has every line of it. The
  same rounds run against ``bench.fanout``, a bare asyncio hub that only
  opens and seals each delivery with ChaCha20-Poly1305: the floor. The two
  take turns. The hub's deliveries per second of its own CPU time is the
  figure, and its ratio to the floor's; the wall-clock rate is in the note,
  since on two CPUs the simulated members share the machine with the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import struct
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from bench import cpus
from bench.core import Config, Figure, Target, percentile
from bench.fanout import FROM_HUB, LENGTH, TO_HUB, member_key
from bench.oneshot import process_cpu
from bench.peers import LOOPBACK, SETUP_TIMEOUT, LineProcess, nonce
from bench.relay import confide_command
from confide.net import tcp
from confide.net.channel import Channel
from confide.protocol import messages as m

SCENARIO = "room"
RATE = 20
"""Messages per second each member sends in ``load``."""
BATCH = 10
"""Lines each member sends per round in ``peak``."""
TEXT_SIZE = 100
PASSWORD = "confide bench room"  # this bench's own throwaway secret, never a user's
ROOM_RUNS = 3
"""Runs at most: each ``load`` run takes ``room_seconds`` and 50 handshakes."""
DRAIN_TIMEOUT = 5.0
"""Seconds without a delivery after which the rest count as lost (a dropped member's)."""
SMALL_ROOM = 20
"""Members of the second ``load`` room, the default size: a load this machine carries."""


def _line(sender: int, count: int) -> str:
    text = f"{sender} {count} {time.monotonic():.6f} "
    return text + "x" * (TEXT_SIZE - len(text))


def _parse(text: str) -> tuple[int, int, float] | None:
    parts = text.split(" ", 3)
    if len(parts) < 4:
        return None
    try:
        return int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError:
        return None


@dataclass
class Tally:
    """What the receivers saw: how many lines, and each one's delay."""

    received: int = 0
    delays: list[float] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def saw(self, text: str) -> None:
        """Count one delivered line and its delay."""
        parsed = _parse(text)
        if parsed is None:
            return
        self.received += 1
        self.delays.append(time.monotonic() - parsed[2])
        self.changed.set()

    async def until(self, expected: int, timeout: float) -> None:
        """Wait until ``expected`` lines arrived, or nothing arrived for ``timeout`` s."""
        while self.received < expected:
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), timeout)
            except TimeoutError:
                return


class HostProcess:
    """``confide host`` on the far CPU, with its stdin, stdout and stderr piped."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, secret: Path) -> None:
        """Use ``start``."""
        self.proc = proc
        self.port = port
        self._secret = secret
        self.last: list[str] = []
        """The last line the host wrote on stderr (for the error if it exits mid-run)."""

    @classmethod
    async def start(cls, members: int) -> HostProcess:
        """Start a room of ``members`` with a password room; wait until it listens."""
        fd, name = tempfile.mkstemp(prefix="confide-bench-")
        os.write(fd, PASSWORD.encode())
        os.close(fd)
        argv = [
            *confide_command(),
            *("host", "--plain", "--no-discovery", "--bind", LOOPBACK, "--port", "0"),
            *("--password-file", name, "--name", "host", "--max-members", str(members)),
        ]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        cpus.far(proc.pid)
        assert proc.stderr is not None
        port = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SETUP_TIMEOUT):
                while not port:
                    line = (await proc.stderr.readline()).decode(errors="replace")
                    if not line:
                        break
                    if line.startswith("listening on "):
                        port = int(line.rsplit(":", 1)[1])
        if not port:
            proc.kill()
            await proc.wait()
            Path(name).unlink(missing_ok=True)
            raise RuntimeError("confide host did not start listening")
        return cls(proc, port, Path(name))

    def cpu(self) -> float:
        """CPU seconds the host has used (user plus system)."""
        return _cpu_seconds(self.proc, "confide host", self.last)

    def say(self, text: str) -> None:
        """Type one line into the host."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")

    async def read_lines(self, tally: Tally) -> None:
        """Count every chat line the host prints (``HH:MM nick: text``) until it exits."""
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            _, _, rest = line.decode(errors="replace").partition(": ")
            tally.saw(rest)

    async def drain_stderr(self) -> None:
        """Read the host's status lines, so its stderr never fills; keep the last one."""
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.last[:] = [line.decode(errors="replace").strip()]

    async def stop(self) -> None:
        """End the room (end of input leaves), killing the host if it lingers."""
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        self._secret.unlink(missing_ok=True)


def _cpu_seconds(proc: asyncio.subprocess.Process, name: str, last: list[str]) -> float:
    """``proc``'s CPU seconds so far; a clear error (its exit code, its last line) if it ended."""
    try:
        return process_cpu(proc.pid)
    except OSError:
        said = f": {last[-1]}" if last else ""
        raise RuntimeError(
            f"the {name} (pid {proc.pid}) exited during the run (code {proc.returncode}){said}"
        ) from None


class Member:
    """One simulated confide member: its channel, and a reader that acks every line."""

    def __init__(self, index: int, channel: Channel, tally: Tally) -> None:
        """A member whose welcome has arrived."""
        self.index = index
        self.channel = channel
        self.tally = tally
        self.sent = 0
        self.reader: asyncio.Task[None] | None = None

    @classmethod
    async def join(cls, index: int, port: int, tally: Tally) -> Member:
        """Join the room on ``port`` and wait for the host's welcome."""
        secret = PASSWORD.encode()
        joined = await tcp.connect(LOOPBACK, port, secret, "", timeout=SETUP_TIMEOUT)
        channel = joined.channel
        channel.send(m.Nick(f"m{index}"))
        await channel.drain()
        while not isinstance(await asyncio.wait_for(channel.receive(), SETUP_TIMEOUT), m.Welcome):
            pass
        member = cls(index, channel, tally)
        member.reader = asyncio.create_task(member._read())
        return member

    async def _read(self) -> None:
        """Count every line; ack the newest of what arrived together, as a member's session does."""
        newest = 0
        with contextlib.suppress(Exception):
            while True:
                message = await self.channel.receive()
                if isinstance(message, m.Said):
                    newest = message.seq
                    self.tally.saw(message.text)
                if newest and not self.channel.has_received():
                    self.channel.send(m.Receipt(newest))  # a receipt stands for all before it
                    newest = 0

    def say(self, text: str) -> None:
        """Send one chat line."""
        self.sent += 1
        self.channel.send(m.Chat(self.sent, text))

    async def close(self) -> None:
        """Leave and stop reading."""
        with contextlib.suppress(Exception):
            self.channel.send(m.Bye("bench done"))
            await asyncio.wait_for(self.channel.drain(), 2)
        if self.reader is not None:
            self.reader.cancel()
        await self.channel.close()


class BareMember:
    """One member of the bare fan-out hub: length-prefixed ChaCha20-Poly1305 boxes."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int, tally: Tally
    ) -> None:
        """Use ``join``."""
        self.index = index
        self.writer = writer
        self.aead = ChaCha20Poly1305(member_key(index))
        self.tally = tally
        self.sent = 0
        self.reader = asyncio.create_task(self._read(reader))

    @classmethod
    async def join(cls, index: int, port: int, tally: Tally) -> BareMember:
        """Connect to the bare hub on ``port`` as member ``index``."""
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        writer.write(bytes((index,)))
        await asyncio.wait_for(reader.readexactly(1), SETUP_TIMEOUT)  # registered
        return cls(reader, writer, index, tally)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        got = 0
        with contextlib.suppress(Exception):
            while True:
                (size,) = LENGTH.unpack(await reader.readexactly(LENGTH.size))
                got += 1
                box = await reader.readexactly(size)
                self.tally.saw(self.aead.decrypt(nonce(FROM_HUB, got), box, None).decode())

    def say(self, text: str) -> None:
        """Send one line."""
        self.sent += 1
        box = self.aead.encrypt(nonce(TO_HUB, self.sent), text.encode(), None)
        self.writer.write(struct.pack(">I", len(box)) + box)

    async def close(self) -> None:
        """Disconnect."""
        self.reader.cancel()
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


Joiner = Callable[[int, int, Tally], Awaitable["Member | BareMember"]]


async def _members(join: Joiner, count: int, port: int, tally: Tally) -> list[Member | BareMember]:
    return list(await asyncio.gather(*(join(i, port, tally) for i in range(1, count + 1))))


@dataclass
class LoadRun:
    """One ``load`` run's figures, and how busy each side was (for the note)."""

    lost: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_1k: float
    host_busy: float
    """The host's CPU time over the wall time, from the first send to the last."""
    members_busy: float
    """The same for the bench process, where the simulated members run."""


async def _load(cfg: Config) -> LoadRun:
    """One ``load`` run."""
    size = cfg.room_members
    host = await HostProcess.start(size)
    tally = Tally()
    tasks = [asyncio.create_task(host.read_lines(tally)), asyncio.create_task(host.drain_stderr())]
    members = await _members(Member.join, size - 1, host.port, tally)
    try:
        rounds = max(1, round(cfg.room_seconds * RATE))
        cpu0, ours0 = host.cpu(), time.process_time()
        start = time.monotonic()
        for k in range(rounds):
            for i in range(size):
                due = start + (k + i / size) / RATE
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                text = _line(i, k)
                if i == 0:
                    host.say(text)
                else:
                    members[i - 1].say(text)
        busy_host, busy_ours = host.cpu() - cpu0, time.process_time() - ours0
        wall = time.monotonic() - start  # how busy both were while the lines went out
        expected = rounds * size * (size - 1)
        await tally.until(expected, DRAIN_TIMEOUT)
        cpu = host.cpu() - cpu0
    finally:
        for member in members:
            await member.close()
        await host.stop()
        for task in tasks:
            task.cancel()
    delays = sorted(tally.delays)
    lost = expected - tally.received
    p50, p99 = percentile(delays, 50) * 1000, percentile(delays, 99) * 1000
    per_1k = cpu * 1000 / (max(tally.received, 1) / 1000)
    return LoadRun(float(lost), p50, p99, per_1k, busy_host / wall, busy_ours / wall)


async def _peak(cfg: Config, bare: bool) -> tuple[float, float]:
    """One ``peak`` run: (deliveries per hub CPU second, deliveries per wall second)."""
    size = cfg.room_members
    tally = Tally()
    if bare:
        hub = await LineProcess.spawn("bench.fanout")
        cpus.far(hub.pid)
        assert hub.stdout is not None
        port = int(json.loads(await hub.stdout.readline())["port"])
        cpu_now: Callable[[], float] = functools.partial(_cpu_seconds, hub, "bare fan-out hub", [])
        stop = LineProcess(hub).stop
        members = await _members(BareMember.join, size - 1, port, tally)
    else:
        host = await HostProcess.start(size)
        side = [
            asyncio.create_task(host.read_lines(Tally())),
            asyncio.create_task(host.drain_stderr()),
        ]
        cpu_now, stop = host.cpu, host.stop
        members = await _members(Member.join, size - 1, host.port, tally)
    try:
        per_round = len(members) * BATCH * (len(members) - 1)
        cpu0, start = cpu_now(), time.monotonic()
        for k in range(cfg.room_rounds):
            for j in range(BATCH):
                for member in members:
                    member.say(_line(member.index, k * BATCH + j))
            await tally.until(per_round * (k + 1), DRAIN_TIMEOUT)
        wall, cpu = time.monotonic() - start, cpu_now() - cpu0
    finally:
        for member in members:
            await member.close()
        await stop()
        if not bare:
            for task in side:
                task.cancel()
    done = tally.received
    return done / max(cpu, 1e-3), done / wall


async def run(cfg: Config) -> list[Figure]:
    """Measure the room: ``load`` once per run, ``peak`` against the floor in turns."""
    n = cfg.room_members
    lost = Figure(SCENARIO, f"load: msgs lost, {n} members", "msgs", "lower")
    p50 = Figure(SCENARIO, "load: delivery p50", "ms", "lower")
    p99 = Figure(SCENARIO, "load: delivery p99", "ms", "lower", target=Target("<", 50))
    cpu = Figure(SCENARIO, "load: hub CPU/1k deliveries", "ms", "lower")
    floor = Figure(SCENARIO, "peak: bare fan-out hub (AEAD)", "deliv/CPU-s", "higher")
    hub = Figure(
        SCENARIO,
        "peak: confide host",
        "deliv/CPU-s",
        "higher",
        baseline=floor.name,
        target=Target(">=", 0.5, ratio=True),
    )
    small = min(SMALL_ROOM, n)
    small_p50 = Figure(SCENARIO, f"load, {small} members: p50", "ms", "lower")
    small_p99 = Figure(SCENARIO, f"load, {small} members: p99", "ms", "lower")
    walls: dict[str, list[float]] = {floor.name: [], hub.name: []}
    with cpus.near():
        busy: list[tuple[float, float]] = []
        for _ in range(min(cfg.runs, ROOM_RUNS)):
            one = await _load(cfg)
            lost.samples.append(one.lost)
            p50.samples.append(one.p50_ms)
            p99.samples.append(one.p99_ms)
            cpu.samples.append(one.cpu_ms_per_1k)
            busy.append((one.host_busy, one.members_busy))
            fewer = await _load(replace(cfg, room_members=small))
            small_p50.samples.append(fewer.p50_ms)
            small_p99.samples.append(fewer.p99_ms)
            for fig, bare in ((floor, True), (hub, False)):
                per_cpu, per_wall = await _peak(cfg, bare)
                fig.samples.append(per_cpu)
                walls[fig.name].append(per_wall)
    rate = n * RATE
    lost.note = f"{rate:,} msgs/s in, {rate * (n - 1):,} deliveries/s out"
    host_busy, members_busy = sorted(busy)[len(busy) // 2]
    p99.note = f"CPU busy: host {host_busy:.0%}, the simulated members' process {members_busy:.0%}"
    for fig in (floor, hub):
        wall = sorted(walls[fig.name])[len(walls[fig.name]) // 2]
        fig.note = f"{wall:,.0f} deliveries/s wall clock (members share the CPUs)"
    small_p50.note = f"{small * RATE:,} msgs/s in, {small * RATE * (small - 1):,} deliveries/s out"
    return [lost, p50, p99, cpu, small_p50, small_p99, floor, hub]
