"""Cluster: three relay nodes on one Redis against a single node, in the same run.

The bench starts a ``redis-server`` (loopback, free port, no persistence),
three ``confide relay --redis`` nodes and one plain ``confide relay`` (in
memory), all with the bench's limits lifted (``bench.relay.RELAY_LIMITS``)
and ``--room-grace 0``, and speaks the routing frames itself, as the relay
scenario does:

* ``redirected meet``: a host opens a room on node A; its joiner asks node
  B (``JOIN`` version 2), is sent to A by a ``REDIRECT``, joins there; the
  time from the ``OPEN`` until both ends are ``SPLICED``. The baseline,
  ``single-node meet``, is the same pair on the single node. Target: under
  3x. ``cluster meet, no redirect`` is the same on node A alone (what the
  directory costs without the extra hop).
* ``rooms/s, 3 nodes``: rooms opened at once across the three nodes (one
  thread per node opens its share in waves: every ``OPEN`` of a wave sent
  before any ``OPENED`` is read), all of them over the time it took; the
  baseline, ``rooms/s, 1 node``, is the same three threads against the
  single node. Target: at least 2x.
* ``forwarding, 3 nodes``: spliced pairs spread over the three nodes (each
  pair on one node: splices stay node-local), every joiner streaming 64 KiB
  writes to its host for a fixed time; MiB/s delivered, all together. The
  baseline, ``forwarding, 1 node``, is the same pairs on the single node.

Cluster and single node take turns, and which goes first alternates from
run to run. One unmeasured round of rooms first lets every node make its
connections to Redis. Without ``redis-server`` every figure says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import flows, rawclient, relay
from bench.core import Better, Config, Figure, Target
from bench.peers import LOOPBACK
from confide.net.tcp import parse_address
from confide.wire import routing

SCENARIO = "cluster"
NODES = 3
NODE_FLAGS = ["--room-grace", "0"]
WAVE = 32
"""OPENs one thread sends before it reads their answers (a node asks Redis 16 at a time)."""
REDIS_START = 10.0
"""Seconds the bench waits for a new redis-server to answer ``PING``."""


def _meets(cfg: Config) -> int:
    return 1 if cfg.mode == "tiny" else 5 if cfg.mode == "quick" else 9


def _rooms(cfg: Config) -> int:
    return 30 if cfg.mode == "tiny" else 600 if cfg.mode == "quick" else 3000


# -- redis-server and the nodes ---------------------------------------------------


class Redis:
    """A ``redis-server`` on a free loopback port, no persistence, in a folder of its own."""

    def __init__(self, binary: str) -> None:
        """Start nothing yet; ``start`` runs it."""
        self.binary = binary
        with socket.socket() as sock:
            sock.bind((LOOPBACK, 0))
            self.port = int(sock.getsockname()[1])
        self.folder = Path(tempfile.mkdtemp(prefix="confide-bench-redis-"))
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://{LOOPBACK}:{self.port}/0"

    async def start(self) -> None:
        """Run it and wait (bounded) until it answers ``PING``."""
        args = [self.binary, "--port", str(self.port), "--bind", LOOPBACK, "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.folder)]
        self.popen = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + REDIS_START
        while not await asyncio.to_thread(self._answers):
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            await asyncio.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """End it (SIGTERM, then SIGKILL) and remove its folder."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)


class Relays:
    """Redis, the three nodes on it, and the single in-memory node."""

    def __init__(self) -> None:
        """Nothing yet; ``start`` starts it all."""
        self.redis: Redis | None = None
        self.nodes: list[relay.RelayProcess] = []
        self.single: relay.RelayProcess | None = None

    async def start(self) -> None:
        """Start everything; ``RuntimeError`` saying what could not start."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (the Debian package redis-server)")
        self.redis = Redis(binary)
        await self.redis.start()
        for _ in range(NODES):
            self.nodes.append(_started(await relay.start_relay(self._node_flags())))
        self.single = _started(await relay.start_relay(NODE_FLAGS))

    def _node_flags(self) -> list[str]:
        assert self.redis is not None
        return ["--redis", self.redis.url, *NODE_FLAGS]

    async def stop(self) -> None:
        """Stop every node, then Redis."""
        for process in [*self.nodes, *([self.single] if self.single else [])]:
            await process.stop()
        if self.redis is not None:
            self.redis.stop()


def _started(started: relay.RelayProcess | str) -> relay.RelayProcess:
    if isinstance(started, str):
        raise RuntimeError(started)
    return started


# -- a pair meeting, redirected or not -----------------------------------------------


def meet(host_port: int, joiner_port: int) -> float:
    """Seconds from a host's ``OPEN`` on ``host_port`` until its joiner (who asks
    ``joiner_port``, and is redirected if that is another node) and it are ``SPLICED``.

    Blocking sockets, as ``bench.rawclient.meet``: the figure is the relay's, not an
    event loop's.
    """
    held: list[socket.socket] = []

    def connect(port: int) -> socket.socket:
        held.append(rawclient._connect(port))
        return held[-1]

    try:
        start = time.perf_counter()
        control = connect(host_port)
        control.sendall(routing.open_request())
        opened = routing.parse_opened(rawclient._expect(control, routing.OPENED))
        join = routing.join_request(opened.nameplate, routing.REDIRECT_VERSION)
        joiner = connect(joiner_port)
        joiner.sendall(join)
        if joiner_port != host_port:  # another node: it answers REDIRECT at once
            to = routing.parse_redirect(rawclient._expect(joiner, routing.REDIRECT))
            joiner = connect(parse_address(to)[1])  # every node is on loopback
            joiner.sendall(join)
        joiner_id = routing.parse_incoming(rawclient._expect(control, routing.INCOMING))
        accepted = connect(host_port)
        accepted.sendall(routing.accept_request(opened.token, joiner_id))
        rawclient._expect(accepted, routing.SPLICED)
        rawclient._expect(joiner, routing.SPLICED)
        elapsed = time.perf_counter() - start
        control.sendall(routing.frame(routing.LEAVE))
        return elapsed
    finally:
        rawclient.close_all(held)


def median_meet(host_port: int, joiner_port: int, count: int) -> float:
    """The median of ``count`` meets in ms, after one unmeasured one."""
    meet(host_port, joiner_port)
    times = sorted(meet(host_port, joiner_port) for _ in range(count))
    return times[len(times) // 2] * 1000


# -- rooms opened at once ------------------------------------------------------------


def _open_rooms(port: int, count: int, held: list[socket.socket]) -> None:
    """Open ``count`` rooms on ``port`` in waves; their control sockets go to ``held``."""
    while count > 0:
        wave = [rawclient._connect(port) for _ in range(min(WAVE, count))]
        held += wave
        for sock in wave:
            sock.sendall(routing.open_request())
        for sock in wave:
            rawclient._expect(sock, routing.OPENED)
        count -= len(wave)


def rooms_per_second(ports: list[int], rooms: int) -> float:
    """Rooms opened per second by one thread per port in ``ports``, ``rooms`` in all."""
    held: list[socket.socket] = []
    errors: list[BaseException] = []
    share = [rooms // len(ports) + (i < rooms % len(ports)) for i in range(len(ports))]

    def opener(port: int, count: int) -> None:
        mine: list[socket.socket] = []
        try:
            _open_rooms(port, count, mine)
        except BaseException as exc:  # reported below, after every thread ended
            errors.append(exc)
        finally:
            held.extend(mine)

    threads = [
        threading.Thread(target=opener, args=(p, n)) for p, n in zip(ports, share, strict=True)
    ]
    try:
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        if errors:
            raise RuntimeError(f"opening rooms failed: {errors[0]!r}")
        return rooms / elapsed
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.sendall(routing.frame(routing.LEAVE))
        rawclient.close_all(held)


# -- forwarding ------------------------------------------------------------------------


async def forwarding(ports: list[int], pairs: int, seconds: float) -> float:
    """MiB/s through ``pairs`` spliced pairs spread over ``ports``, for ``seconds``."""
    held = [await rawclient.raw_pair(ports[i % len(ports)]) for i in range(pairs)]
    try:
        load = await flows.stream([(p.joiner[1], p.host[0]) for p in held], seconds)
    finally:
        for pair in held:
            pair.abort()
    return load.rate


# -- the figures ------------------------------------------------------------------------


def _against_one(
    name: str,
    unit: str,
    better: Better,
    one: str,
    note: str,
    one_note: str,
    target: Target | None = None,
) -> tuple[Figure, Figure]:
    """A cluster figure against the single-node figure ``one`` (with a ``target``), and that."""
    cluster = Figure(SCENARIO, name, unit, better, baseline=one, target=target, note=note)
    return cluster, Figure(SCENARIO, one, unit, better, note=one_note)


def _figures(cfg: Config) -> dict[str, Figure]:
    meets, rooms, pairs = _meets(cfg), _rooms(cfg), cfg.active_pairs
    redirected, single_meet = _against_one(
        "redirected meet",
        "ms",
        "lower",
        "single-node meet",
        f"OPEN on node A, JOIN at B, REDIRECT to A, both SPLICED (median of {meets})",
        "the same on a node without Redis",
        Target("<", 3.0, ratio=True),
    )
    opened, single_rooms = _against_one(
        "rooms/s, 3 nodes",
        "rooms/s",
        "higher",
        "rooms/s, 1 node",
        f"{rooms} rooms opened at once across the 3 nodes (a thread per node)",
        f"{rooms} rooms opened at once on one node (3 threads)",
        Target(">=", 2.0, ratio=True),
    )
    fwd, single_fwd = _against_one(
        "forwarding, 3 nodes",
        "MiB/s",
        "higher",
        "forwarding, 1 node",
        f"{pairs} pairs spread over the 3 nodes, 64 KiB writes, {cfg.active_seconds:g} s per run",
        f"the same {pairs} pairs on one node",
    )
    same_node = Figure(
        SCENARIO,
        "cluster meet, no redirect",
        "ms",
        "lower",
        baseline="single-node meet",
        note="the same pair on node A alone: the directory's cost without the hop",
    )
    return {
        "redirected": redirected,
        "same_node": same_node,
        "single_meet": single_meet,
        "rooms": opened,
        "single_rooms": single_rooms,
        "fwd": fwd,
        "single_fwd": single_fwd,
    }


async def run(cfg: Config) -> list[Figure]:
    """Measure every figure; the cluster and the single node take turns."""
    figs = _figures(cfg)
    relays = Relays()
    try:
        await relays.start()
    except RuntimeError as exc:
        await relays.stop()
        for fig in figs.values():
            fig.unavailable = str(exc)
        return list(figs.values())
    assert relays.single is not None
    a, b = relays.nodes[0].port, relays.nodes[1].port
    cluster, single = [n.port for n in relays.nodes], [relays.single.port] * NODES
    meets, rooms, pairs, seconds = _meets(cfg), _rooms(cfg), cfg.active_pairs, cfg.active_seconds
    kinds: list[list[tuple[str, Callable[[], Awaitable[float]]]]] = [
        [
            ("redirected", lambda: asyncio.to_thread(median_meet, a, b, meets)),
            ("same_node", lambda: asyncio.to_thread(median_meet, a, a, meets)),
            ("single_meet", lambda: asyncio.to_thread(median_meet, single[0], single[0], meets)),
        ],
        [
            ("rooms", lambda: asyncio.to_thread(rooms_per_second, cluster, rooms)),
            ("single_rooms", lambda: asyncio.to_thread(rooms_per_second, single, rooms)),
        ],
        [
            ("fwd", lambda: forwarding(cluster, pairs, seconds)),
            ("single_fwd", lambda: forwarding(single, pairs, seconds)),
        ],
    ]
    try:
        for ports in (cluster, single):  # unmeasured: each node connects to Redis, warms up
            await asyncio.to_thread(rooms_per_second, ports, rooms)
        for turn in range(cfg.runs):
            for kind in kinds:
                for key, measure in kind if turn % 2 == 0 else reversed(kind):
                    figs[key].samples.append(await measure())
    finally:
        await relays.stop()
    return list(figs.values())
