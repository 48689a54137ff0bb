"""Files: one random file from disk to disk, hashed and verified, against a floor.

Each run sends the same file of ``Config.file_bytes`` random bytes (written
once, with its SHA-256) in every variant, the variants taking turns, and each
received copy is checked against that digest before it is deleted:

* ``tcp+aead stream, disk to disk``: the floor. The bench reads the file 64 KiB
  at a time, hashes it with SHA-256, seals each chunk with ChaCha20-Poly1305
  and writes it to a loopback TCP stream; the peer process (``bench.peer``,
  on the other CPU) opens each chunk in place, writes it to its file, hashes
  it, fsyncs and sends its digest back. Timed from the first read to the
  digest's arrival.
* ``confide send/receive, direct`` and ``..., relay``: the two
  commands a user runs, as real processes (``bench.oneshot``): ``confide send
  FILE`` and ``confide receive --dir D --yes`` with the code in
  ``CONFIDE_CODE``, directly on loopback or through a real ``confide relay``.
  Timed from the receiver's ``.part`` appearing (it accepted) to its exit (the
  stream hashed, the file fsynced and renamed); the note adds the rate from
  the receiver's spawn (start-up and handshake too). Beside each, the
  receiver's peak RSS (``VmHWM`` from ``/proc``, polled every 10 ms).
* ``confide in a chat session``: the transfer engine itself (``Transfers``)
  on both ends of a chat session, each over a ``ResumableLink`` as the app
  runs one: the bench offers the file, the peer process accepts it and echoes
  every ``Chat``. While the file flows, the bench sends a 100-byte ``Chat``
  every ``PING_GAP`` and times its round trip through the same session, behind
  the chunks: ``chat p50/p99 during transfer`` (a one-shot ``confide send``
  has no chat to time).
* ``magic-wormhole``: an optional peer (``bench.wormhole``), run only when it
  and a local mailbox server are installed; otherwise its row says so.

The MiB/s figures have the floor as their baseline; the target of the two
commands is 0.6x. ``CPU/GiB`` is the CPU time both ends spent per GiB (the
bench's own and the peer's from ``/proc/PID/stat``, the two commands' from
``RUSAGE_CHILDREN``): on a shared machine a rate swings with whatever else
runs, while the CPU cost of a byte barely moves. The source is read from the
page cache (it was just written); every receiver fsyncs its copy before the
figure stops, so the disk's write speed is in every figure alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from bench import cpus, oneshot, relay, wormhole
from bench.core import Config, Figure, Target, percentile
from bench.filepeer import REPORT
from bench.peers import PeerProcess, nonce, peer_channel, peer_stream, resumable
from confide.app.link import LinkDown, LinkUp
from confide.protocol import messages as m

SCENARIO = "files"
CHUNK = 64 * 1024
MIB = 1 << 20
GIB = 1 << 30
TIMEOUT = 600.0
PING_GAP = 0.005
"""Seconds between a chat's echo and the next chat during the in-session transfer."""
WORMHOLE_MB_S = 149.0
"""magic-wormhole 0.24, 1 GiB on this machine class, as issue 12 quotes it (not measured here)."""
TEXT = "x" * 100


def make_source(folder: Path, size: int) -> tuple[Path, bytes]:
    """Write ``size`` random bytes to ``folder/source.bin``; (path, SHA-256)."""
    path = folder / "source.bin"
    hasher = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(left, 4 * MIB))
            hasher.update(block)
            out.write(block)
            left -= len(block)
    return path, hasher.digest()


def check(path: Path, digest: bytes) -> None:
    """Fail unless ``path`` hashes to ``digest``; then delete it."""
    hasher = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(4 * MIB):
            hasher.update(block)
    if hasher.digest() != digest:
        raise RuntimeError(f"{path.name}: the received copy differs from the source")
    path.unlink()


async def floor(
    peer: PeerProcess, source: Path, size: int, digest: bytes, dest: Path
) -> tuple[float, float]:
    """The floor: read, hash, seal, loopback TCP; open, write, hash, fsync. (MiB/s, CPU s)."""
    reader, writer, key = await peer_stream(peer, "aead", "file", path=str(dest), total=size)
    aead = ChaCha20Poly1305(key)
    hasher = hashlib.sha256()
    pid = peer.proc.pid
    try:
        start, cpu = time.perf_counter(), time.process_time() + oneshot.process_cpu(pid)
        with source.open("rb", buffering=0) as src:
            for seq in itertools.count():
                chunk = src.read(CHUNK)
                if not chunk:
                    break
                hasher.update(chunk)
                writer.write(aead.encrypt(nonce(0, seq), chunk, None))
                await writer.drain()
        theirs = await asyncio.wait_for(reader.readexactly(32), TIMEOUT)
        seconds = time.perf_counter() - start
        cpu = time.process_time() + oneshot.process_cpu(pid) - cpu
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    await peer.done()
    if not theirs == hasher.digest() == digest:
        raise RuntimeError("the floor's copy differs from the source")
    dest.unlink()
    return size / MIB / seconds, cpu


async def in_session(
    peer: PeerProcess, source: Path, size: int, folder: Path
) -> tuple[float, float, list[float], Path]:
    """The engine over a chat session, chats timed meanwhile: (MiB/s, CPU s, RTTs, received)."""
    from confide.app.events import AppEvent, TransferFailed
    from confide.app.transfer import Transfers, link_flow

    link = resumable(await peer_channel(peer, "files", nick=False, dir=str(folder)))
    link.send(m.Nick("bench"))
    loop = asyncio.get_running_loop()
    report: asyncio.Future[str] = loop.create_future()
    echoes: dict[int, asyncio.Future[None]] = {}

    def on_event(event: AppEvent) -> None:
        if isinstance(event, TransferFailed) and not report.done():
            report.set_exception(RuntimeError(f"the bench's end failed: {event.reason}"))

    async def read() -> None:
        while True:
            message = await link.receive()
            if isinstance(message, LinkDown | LinkUp) or transfers.handle(message):
                continue
            if isinstance(message, m.Chat) and message.id == REPORT and not report.done():
                report.set_result(message.text)
            elif isinstance(message, m.Chat) and message.id in echoes:
                echoes.pop(message.id).set_result(None)

    async def ping(rtts: list[float]) -> None:
        for n in itertools.count(1):
            echoes[n] = loop.create_future()
            sent = time.perf_counter()
            link.send(m.Chat(n, TEXT))
            await echoes[n]
            rtts.append(time.perf_counter() - sent)
            if report.done():
                return
            await asyncio.sleep(PING_GAP)

    transfers = Transfers(link.send, on_event, downloads=folder, flow=link_flow(lambda _peer: link))
    tasks = [asyncio.create_task(transfers.run()), asyncio.create_task(read())]
    rtts: list[float] = []
    pid = peer.proc.pid
    try:
        start, cpu = time.perf_counter(), time.process_time() + oneshot.process_cpu(pid)
        transfers.offer(source)
        tasks.append(asyncio.create_task(ping(rtts)))
        reading = tasks[1]
        either: set[asyncio.Future[Any]] = {report, reading}
        await asyncio.wait(either, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        seconds = time.perf_counter() - start
        cpu = time.process_time() + oneshot.process_cpu(pid) - cpu
        if not report.done():
            why = reading.exception() if reading.done() else "timed out"
            raise RuntimeError(f"the session ended before the transfer was done: {why!r}")
        said = report.result()
        await asyncio.wait_for(tasks[2], TIMEOUT)  # the chat in flight at the end
        link.send(m.Bye("done"))
        await link.drain()
    finally:
        for task in tasks:
            task.cancel()
        transfers.close("the bench is done")
        await link.close()
    await peer.done()
    if not said.startswith("done "):
        raise RuntimeError(f"the peer: {said}")
    return size / MIB / seconds, cpu, rtts, Path(said.removeprefix("done "))


def figures(cfg: Config) -> dict[str, Figure]:
    """Every figure of the scenario, by key."""
    size = f"{cfg.file_bytes // MIB} MiB random file per run"
    floor_name = "tcp+aead stream, disk to disk"
    aim = Target(">=", 0.6, ratio=True)
    three_x = WORMHOLE_MB_S * 3 * 1e6 / MIB
    quoted = (
        f"issue 12's aim, 3x magic-wormhole 0.24's quoted {WORMHOLE_MB_S:g} MB/s, "
        f"is {three_x:.0f} MiB/s"
    )
    rss = Target("<", 100)
    figs = {
        "floor": Figure(
            SCENARIO, floor_name, "MiB/s", "higher", note=f"{size}; SHA-256 both ends, fsync"
        ),
        "direct": Figure(
            SCENARIO,
            "confide send/receive, direct",
            "MiB/s",
            "higher",
            baseline=floor_name,
            target=aim,
            note=f"real processes, from the .part to the receiver's exit; {quoted}",
        ),
        "relay": Figure(
            SCENARIO,
            "confide send/receive, relay",
            "MiB/s",
            "higher",
            baseline=floor_name,
            target=aim,
            note="the same through a confide relay process",
        ),
        "session": Figure(
            SCENARIO,
            "confide in a chat session",
            "MiB/s",
            "higher",
            baseline=floor_name,
            note="Transfers over ResumableLinks, bench -> peer process, chats timed meanwhile",
        ),
        "p50": Figure(
            SCENARIO,
            "chat p50 during transfer",
            "ms",
            "lower",
            note=f"100-byte Chat round trips in that session, one every {PING_GAP * 1e3:g} ms",
        ),
        "p99": Figure(
            SCENARIO,
            "chat p99 during transfer",
            "ms",
            "lower",
            target=Target("<", 50),
            note="the same, p99 of each run",
        ),
        "direct rss": Figure(
            SCENARIO,
            "receiver peak RSS, direct",
            "MiB",
            "lower",
            target=rss,
            note="confide receive's VmHWM, polled from /proc every 10 ms",
        ),
        "relay rss": Figure(
            SCENARIO, "receiver peak RSS, relay", "MiB", "lower", target=rss, note="the same"
        ),
        "wormhole": Figure(
            SCENARIO,
            "magic-wormhole",
            "MiB/s",
            "higher",
            baseline=floor_name,
            note=f"optional peer on a local mailbox; issue 12 quotes {WORMHOLE_MB_S:g} MB/s "
            f"({WORMHOLE_MB_S * 1e6 / MIB:.0f} MiB/s) for 0.24 on this machine class",
        ),
    }
    cpu_names = {
        "floor": "floor: CPU/GiB",
        "direct": "send/receive direct: CPU/GiB",
        "relay": "send/receive relay: CPU/GiB",
        "session": "chat session: CPU/GiB",
    }
    for key, name in cpu_names.items():
        figs[f"{key} cpu"] = Figure(
            SCENARIO,
            name,
            "s",
            "lower",
            baseline=None if key == "floor" else cpu_names["floor"],
            note=CPU_NOTES[key],
        )
    figs["wormhole"] = figs.pop("wormhole")  # the optional peer last
    return figs


CPU_NOTES = {
    "floor": "CPU time of both ends per GiB: steadier than a rate on a shared machine",
    "direct": "both processes, start-up and handshake included (not the relay's)",
    "relay": "the same; the relay's CPU is not counted",
    "session": "both ends, chats included",
}


async def run(cfg: Config) -> list[Figure]:
    """Measure with this end on one CPU and the receivers on the other (``bench.cpus``)."""
    with cpus.near(), tempfile.TemporaryDirectory(prefix="confide-bench-files-") as scratch:
        return await _run(cfg, Path(scratch))


async def _run(cfg: Config, scratch: Path) -> list[Figure]:
    figs = figures(cfg)
    size = cfg.file_bytes
    source, digest = make_source(scratch, size)
    inbox = scratch / "inbox"
    inbox.mkdir()
    server = await relay.start_relay()
    if not isinstance(server, relay.RelayProcess):
        for key in ("relay", "relay rss", "relay cpu"):
            figs[key].unavailable = server
    why_not = wormhole.unavailable()
    mailbox: wormhole.Mailbox | None = None
    if why_not is None:
        mailbox = await wormhole.Mailbox.start()
        figs["wormhole"].name = f"magic-wormhole {wormhole.version()}"
    else:
        figs["wormhole"].unavailable, figs["wormhole"].optional = why_not, True

    async def one_shot(key: str, port: int) -> None:
        done = await oneshot.one_transfer(source, inbox, port, TIMEOUT)
        check(done.path, digest)
        figs[key].samples.append(size / MIB / done.transfer)
        figs[f"{key} rss"].samples.append(done.peak_rss / MIB)
        figs[f"{key} cpu"].samples.append(done.cpu / (size / GIB))
        walls.setdefault(key, []).append(size / MIB / done.wall)

    async def session() -> None:
        peer = await PeerProcess.start()
        try:
            rate, cpu, rtts, path = await in_session(peer, source, size, inbox)
        finally:
            await peer.stop()
        check(path, digest)
        rtts.sort()
        figs["session"].samples.append(rate)
        figs["session cpu"].samples.append(cpu / (size / GIB))
        figs["p50"].samples.append(percentile(rtts, 50) * 1e3)
        figs["p99"].samples.append(percentile(rtts, 99) * 1e3)
        ahead.append(rate * percentile(rtts, 99))

    async def floor_run() -> None:
        peer = await PeerProcess.start()
        try:
            rate, cpu = await floor(peer, source, size, digest, inbox / "copy")
            figs["floor"].samples.append(rate)
            figs["floor cpu"].samples.append(cpu / (size / GIB))
        finally:
            await peer.stop()

    async def wormhole_run() -> None:
        assert mailbox is not None
        done = await wormhole.one_transfer(mailbox, source, inbox, TIMEOUT)
        check(done.path, digest)
        figs["wormhole"].samples.append(size / MIB / done.transfer)

    variants: list[tuple[list[str], Callable[[], Awaitable[None]]]] = [
        (["floor", "floor cpu"], floor_run),
        (["session", "p50", "p99", "session cpu"], session),
        (["direct", "direct rss", "direct cpu"], lambda: one_shot("direct", 0)),
    ]
    if isinstance(server, relay.RelayProcess):
        port = server.port
        variants.append((["relay", "relay rss", "relay cpu"], lambda: one_shot("relay", port)))
    if mailbox is not None:
        variants.append((["wormhole"], wormhole_run))
    walls: dict[str, list[float]] = {}
    ahead: list[float] = []
    """Per run, the MiB the transfer moves in a p99 chat round trip: what a chat waits behind."""
    try:
        for _ in range(cfg.file_runs):
            for keys, measure in variants:
                if figs[keys[0]].unavailable:
                    continue
                try:
                    await measure()
                except Exception as exc:  # one variant failing must not hide the others
                    for key in keys:
                        figs[key].unavailable = f"error: {type(exc).__name__}: {exc}"
                        figs[key].samples.clear()
                for leftover in inbox.iterdir():  # what a failed variant left
                    if leftover.is_dir():
                        shutil.rmtree(leftover)
                    else:
                        leftover.unlink()
    finally:
        if isinstance(server, relay.RelayProcess):
            await server.stop()
        if mailbox is not None:
            await mailbox.stop()
    for key, rates in walls.items():
        if figs[key].ok:
            rates.sort()
            figs[key].note += f"; from the receiver's spawn: {rates[len(rates) // 2]:.0f} MiB/s"
    if figs["p99"].ok:
        ahead.sort()
        figs["p99"].note += (
            f"; the transfer moves {ahead[len(ahead) // 2]:.1f} MiB in that time "
            "(median over runs): what a chat waits behind"
        )
    return list(figs.values())
