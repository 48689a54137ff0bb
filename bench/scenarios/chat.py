"""Chat latency: the round trip of a 100-byte message between two endpoints.

The far end runs in its own process (``bench.peer``), as the other side of a
chat runs on another machine; the near end, in the bench, times each round
trip and reports p50 and p99 per run. Every variant is an echo: send one
100-byte message, wait until it comes back whole.

* ``tcp echo``: bare asyncio streams, ``readexactly(100)`` each way.
* ``tcp+aead echo``: the same with ChaCha20-Poly1305 sealing and opening at
  each end, as any encrypted chat must (the baseline of the targets).
* ``confide direct``: a ``Chat`` with 100 bytes of text over confirmed
  ``Channel`` objects on loopback: records, padding, msgpack, the lot.
* ``confide resumable``: the same ``Chat`` with both ends wrapped in a
  ``ResumableLink``, as a version-2 session runs in the app (sequence
  numbers, acks, heartbeats, the outbox); its ratio to ``confide direct``
  (in its note) is the cost of the acks.
* ``confide relay``: the same through a real ``confide relay`` process.
* ``session receipt``: ``ChatSession.say`` on both ends (the app itself) until
  the peer's ``Receipt`` arrives as ``Delivered``: a user's round trip.
* ``tcp+aead forwarded``: the encrypted echo through a bare asyncio process
  that only splices the two connections: the floor for any relay hop here.

Two more figures need no sockets (``bench.codec``): ``codec: chat one way``
is one ``Chat`` of the same 100 bytes through ``Connection.send`` and
``Connection.receive_data`` in memory, against ``codec: raw seal+open``, a
bare ChaCha20-Poly1305 seal and open of the same encoded bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from bench import codec, cpus, relay
from bench.core import Config, Figure, Target, percentile
from bench.peers import PeerProcess, nonce, peer_channel, peer_stream, resumable
from confide.app.chat import ChatSession
from confide.app.events import AppEvent, Delivered
from confide.protocol import messages as m

SCENARIO = "chat"
SIZE = 100
TEXT = "x" * SIZE
WARMUP = 200

BLOCK = 50
"""Round trips of one variant before the next variant takes its turn."""

RoundTrip = Callable[[], Awaitable[None]]


@dataclass
class Echo:
    """One open connection of one variant: how to do a round trip, how to close."""

    round_trip: RoundTrip
    close: Callable[[], Awaitable[None]]


async def _stream(peer: PeerProcess, kind: str, via: int = 0) -> Echo:
    reader, writer, key = await peer_stream(peer, kind, "echo", via, size=SIZE)
    aead = ChaCha20Poly1305(key)
    message = b"x" * SIZE
    seq = [0]

    async def plain() -> None:
        writer.write(message)
        await writer.drain()
        await reader.readexactly(SIZE)

    async def sealed() -> None:
        seq[0] += 1
        writer.write(aead.encrypt(nonce(0, seq[0]), message, None))
        await writer.drain()
        aead.decrypt(nonce(1, seq[0]), await reader.readexactly(SIZE + 16), None)

    async def close() -> None:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        await peer.done()

    return Echo(sealed if kind == "aead" else plain, close)


async def _echo(peer: PeerProcess, relay_port: int = 0) -> Echo:
    channel = (await peer_channel(peer, "echo", relay_port)).channel
    ids = iter(range(1, 1 << 62))

    async def round_trip() -> None:
        channel.send(m.Chat(next(ids), TEXT))
        await channel.drain()
        await channel.receive()

    async def close() -> None:
        await channel.close()
        await peer.done()

    return Echo(round_trip, close)


async def _resumable(peer: PeerProcess) -> Echo:
    """The ``Chat`` echo over a ``ResumableLink`` at both ends."""
    link = resumable(await peer_channel(peer, "echo-resumable", nick=False))
    link.send(m.Nick("bench"))  # through the link: the peer's link counts it as message 1
    await link.drain()
    ids = iter(range(1, 1 << 62))

    async def round_trip() -> None:
        link.send(m.Chat(next(ids), TEXT))
        await link.drain()
        await link.receive()

    async def close() -> None:
        link.send(m.Bye("done"))  # the peer ends on it: the end of the leg is then no loss
        await link.drain()
        await link.close()
        await peer.done()

    return Echo(round_trip, close)


async def _session(peer: PeerProcess) -> Echo:
    joined = await peer_channel(peer, "session", nick=False)
    waiting: list[asyncio.Future[None]] = []

    def on_event(event: AppEvent) -> None:
        if isinstance(event, Delivered) and waiting and not waiting[0].done():
            waiting[0].set_result(None)

    session = ChatSession(joined.channel, "bench", joined.done.sas, on_event)
    running = asyncio.create_task(session.run())
    loop = asyncio.get_running_loop()

    async def round_trip() -> None:
        waiting[:] = [loop.create_future()]
        session.say(TEXT)
        await session.drain()
        await waiting[0]

    async def close() -> None:
        await session.leave()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, 5)
        running.cancel()
        await peer.done()

    return Echo(round_trip, close)


async def _one_run(
    opens: dict[str, Callable[[], Awaitable[Echo]]], count: int
) -> dict[str, tuple[float, float]]:
    """Open every variant, then take turns of ``BLOCK`` round trips; (p50, p99) in us each.

    Taking turns spreads whatever else the machine does over all variants alike.
    """
    echoes: dict[str, Echo] = {}
    try:
        for key, open_ in opens.items():
            echoes[key] = await open_()
        for echo in echoes.values():
            for _ in range(WARMUP):
                await echo.round_trip()
        times: dict[str, list[float]] = {key: [] for key in echoes}
        clock = time.perf_counter
        for done in range(0, count, BLOCK):
            for key, echo in echoes.items():
                rtt = times[key]
                for _ in range(min(BLOCK, count - done)):
                    start = clock()
                    await echo.round_trip()
                    rtt.append(clock() - start)
    finally:
        for echo in echoes.values():
            await echo.close()
    out = {}
    for key, rtts in times.items():
        rtts.sort()
        out[key] = (percentile(rtts, 50) * 1e6, percentile(rtts, 99) * 1e6)
    return out


def _figures(cfg: Config) -> dict[str, tuple[Figure, Figure]]:
    def both(name: str, note: str, p50: Target | None = None) -> tuple[Figure, Figure]:
        base50 = base99 = None
        if name != "tcp echo":
            base = "tcp echo" if name == "tcp+aead echo" else "tcp+aead echo"
            base50, base99 = f"{base} p50", f"{base} p99"
        return (
            Figure(SCENARIO, f"{name} p50", "us", "lower", baseline=base50, target=p50, note=note),
            Figure(SCENARIO, f"{name} p99", "us", "lower", baseline=base99, note=note),
        )

    rts = f"{cfg.chat_round_trips} round trips of {SIZE} B per run, far end in its own process"
    return {
        "tcp": both("tcp echo", f"bare asyncio echo; {rts}"),
        "aead": both("tcp+aead echo", "the echo plus ChaCha20-Poly1305 at each end"),
        "direct": both("confide direct", "Chat over two Channels", Target("<=", 1.3, ratio=True)),
        "resumable": both(
            "confide resumable",
            "Chat over two ResumableLinks (sequence numbers, acks, outbox)",
            Target("<=", 1.5, ratio=True),
        ),
        "relay": both(
            "confide relay", "Chat through a confide relay process", Target("<=", 2.5, ratio=True)
        ),
        "session": both("session receipt", "ChatSession.say until Delivered (the receipt)"),
        "forward": both(
            "tcp+aead forwarded",
            "the encrypted echo through a bare asyncio splice process: any relay's floor",
        ),
    }


async def run(cfg: Config) -> list[Figure]:
    """Measure with this end on one CPU and the far ends on the other (``bench.cpus``)."""
    with cpus.near():
        return await _run(cfg)


async def _run(cfg: Config) -> list[Figure]:
    """Measure every variant, each against its own peer process, taking turns."""
    figs = _figures(cfg)
    server = await relay.start_relay()
    keys = ["tcp", "aead", "direct", "resumable", "session"]
    if isinstance(server, relay.RelayProcess):
        keys.append("relay")
    else:
        for fig in figs["relay"]:
            fig.unavailable = server
    forwarder = await relay.start_bare_forwarder()
    if isinstance(forwarder, str):
        raise RuntimeError(f"the bare forwarder did not start: {forwarder}")
    keys.append("forward")
    peers: dict[str, PeerProcess] = {}
    try:
        for key in keys:
            peers[key] = await PeerProcess.start()
        opens: dict[str, Callable[[], Awaitable[Echo]]] = {
            "tcp": lambda: _stream(peers["tcp"], "tcp"),
            "aead": lambda: _stream(peers["aead"], "aead"),
            "direct": lambda: _echo(peers["direct"]),
            "resumable": lambda: _resumable(peers["resumable"]),
            "session": lambda: _session(peers["session"]),
        }
        if isinstance(server, relay.RelayProcess):
            port = server.port
            opens["relay"] = lambda: _echo(peers["relay"], port)
        opens["forward"] = lambda: _stream(peers["forward"], "aead", forwarder.port)
        for _ in range(cfg.runs):
            for key, (p50, p99) in (await _one_run(opens, cfg.chat_round_trips)).items():
                figs[key][0].samples.append(p50)
                figs[key][1].samples.append(p99)
    finally:
        for peer in peers.values():
            await peer.stop()
        await forwarder.stop()
        if isinstance(server, relay.RelayProcess):
            await server.stop()
    _note_ack_cost(figs["resumable"], figs["direct"])
    return [fig for pair in figs.values() for fig in pair] + _codec(cfg)


def _codec(cfg: Config) -> list[Figure]:
    """The in-memory codec figures (``bench.codec``): one chat one way, against a raw seal+open."""
    raw = Figure(
        SCENARIO,
        "codec: raw seal+open",
        "us",
        "lower",
        note=f"ChaCha20-Poly1305 seal and open of one encoded {SIZE}-byte chat, in memory",
    )
    one_way = Figure(
        SCENARIO,
        "codec: chat one way",
        "us",
        "lower",
        baseline=raw.name,
        target=Target("<=", 2.0, ratio=True),
        note="Connection.send -> receive_data of one Chat, in memory: the protocol's own cost",
    )
    for _ in range(cfg.runs):
        confide_us, raw_us = codec.one_run(TEXT, cfg.chat_round_trips)
        one_way.samples.append(confide_us)
        raw.samples.append(raw_us)
    return [raw, one_way]


def _note_ack_cost(resumable: tuple[Figure, Figure], direct: tuple[Figure, Figure]) -> None:
    """Add the resumable link's ratio to ``confide direct`` (what the link adds) to its notes."""
    for fig, base in zip(resumable, direct, strict=True):
        if fig.ok and base.ok and base.median > 0:
            ratio = fig.median / base.median
            fig.note += f"; {ratio:.2f}x {base.name}: what sequence numbers and acks add"
