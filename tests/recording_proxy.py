"""A loopback TCP proxy that records every byte both ways, and can tamper.

``RecordingProxy`` listens on ``127.0.0.1`` (a free port) and forwards each
connection it accepts to a target port on ``127.0.0.1``. It runs its own
asyncio loop on a daemon thread (``loop_thread.LoopThread``), so synchronous
tests that drive ``confide`` subprocesses can use it directly
(``with RecordingProxy(port) as proxy``).

Both directions are split into confide frames (a 4-byte big-endian length,
then the record), and every frame is recorded as it arrived. "c2s" is what
the client (the joiner) sent; "s2c" is what the server (the host) sent.
A ``Tamper`` rule picks one frame in one direction and changes what is
forwarded:

- ``flip``: flip bit ``bit`` of byte ``offset`` of the frame (``offset``
  counts from the start of the 4-byte length prefix, so ``PREFIX.size + n``
  is byte ``n`` of the record; a negative offset counts from the end);
- ``replay``: forward the frame, then the same frame again;
- ``swap``: hold the frame and forward the next frame of that direction first;
- ``truncate``: forward the prefix and the first ``keep`` bytes of the
  record (default: half), then close both connections;
- ``cut``: close both connections just before the frame (a clean cut at a
  record boundary, e.g. dropping a goodbye).

``record_type`` restricts which frames ``index`` counts (``DATA`` = 0x17,
``HANDSHAKE`` = 0x01); by default every frame counts. ``fired`` is set once
the rule has been applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from dataclasses import dataclass, field
from typing import Literal

from loop_thread import LoopThread

HANDSHAKE = 0x01
ALERT = 0x02
DATA = 0x17
PREFIX = struct.Struct(">I")
MAX_FRAME = 1 << 20
"""A larger length prefix is not confide framing: such bytes are passed through raw."""

Direction = Literal["c2s", "s2c"]
Action = Literal["flip", "replay", "swap", "truncate", "cut"]


@dataclass(frozen=True)
class Tamper:
    """One change to make to the traffic (see the module docstring)."""

    direction: Direction
    action: Action
    index: int
    record_type: int | None = None
    offset: int = -1
    bit: int = 0
    keep: int | None = None


@dataclass
class Link:
    """One proxied connection: the frames seen each way."""

    frames: dict[str, list[bytes]] = field(default_factory=lambda: {"c2s": [], "s2c": []})
    raw: dict[str, bytearray] = field(
        default_factory=lambda: {"c2s": bytearray(), "s2c": bytearray()}
    )


class RecordingProxy:
    """A recording, optionally tampering, TCP proxy on loopback."""

    def __init__(self, target_port: int, tamper: Tamper | None = None) -> None:
        """Prepare a proxy to ``127.0.0.1:target_port``; ``start`` (or ``with``) runs it."""
        self.target_port = target_port
        self.tamper = tamper
        self.port = 0
        self.links: list[Link] = []
        self.fired = threading.Event()
        self._lock = threading.Lock()
        self._runner = LoopThread("recording-proxy")
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- life cycle --------------------------------------------------------

    def start(self) -> RecordingProxy:
        """Start listening; ``port`` is then the port to connect to."""
        self._runner.start()
        self.port = self._runner.run(self._listen())
        return self

    @property
    def at(self) -> str:
        """``127.0.0.1:PORT`` of the proxy, for ``confide join --at``."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Close the listener and every connection, then stop the thread."""
        if not self._runner.thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self._runner.run(self._shutdown())
        self._runner.stop()

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what was seen -----------------------------------------------------

    def captured(self, direction: Direction) -> bytes:
        """Every byte received from one side, over all connections, as it arrived."""
        with self._lock:
            return b"".join(bytes(link.raw[direction]) for link in self.links)

    def frames(self, direction: Direction) -> list[bytes]:
        """Every whole frame received from one side, over all connections."""
        with self._lock:
            return [f for link in self.links for f in link.frames[direction]]

    # -- the proxy ---------------------------------------------------------

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def _accept(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(creader, cwriter))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        link = Link()
        with self._lock:
            self.links.append(link)
        try:
            sreader, swriter = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            cwriter.close()
            return
        writers = (cwriter, swriter)
        try:
            await asyncio.gather(
                self._pump(link, "c2s", creader, swriter, writers),
                self._pump(link, "s2c", sreader, cwriter, writers),
            )
        finally:
            for w in writers:
                with contextlib.suppress(Exception):
                    w.close()

    async def _pump(
        self,
        link: Link,
        direction: Direction,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        writers: tuple[asyncio.StreamWriter, ...],
    ) -> None:
        buf = bytearray()
        raw_mode = False
        counted = 0
        held: bytes | None = None
        rule = self.tamper if self.tamper and self.tamper.direction == direction else None
        while True:
            try:
                data = await reader.read(65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(Exception):
                    if buf:
                        writer.write(bytes(buf))
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            with self._lock:
                link.raw[direction] += data
            if raw_mode:
                await _send(writer, data)
                continue
            buf += data
            while len(buf) >= PREFIX.size:
                (length,) = PREFIX.unpack_from(buf)
                if length > MAX_FRAME:
                    raw_mode = True
                    await _send(writer, bytes(buf))
                    buf.clear()
                    break
                if len(buf) < PREFIX.size + length:
                    break
                frame = bytes(buf[: PREFIX.size + length])
                del buf[: PREFIX.size + length]
                with self._lock:
                    link.frames[direction].append(frame)
                if held is not None:
                    await _send(writer, frame + held)
                    held = None
                    continue
                matches = rule is not None and (
                    rule.record_type is None or (len(frame) > 5 and frame[5] == rule.record_type)
                )
                if not matches or rule is None or self.fired.is_set():
                    await _send(writer, frame)
                    continue
                if counted < rule.index:
                    counted += 1
                    await _send(writer, frame)
                    continue
                self.fired.set()
                if rule.action == "flip":
                    await _send(writer, _flip(frame, rule.offset, rule.bit))
                elif rule.action == "replay":
                    await _send(writer, frame + frame)
                elif rule.action == "swap":
                    held = frame
                else:
                    if rule.action == "truncate":
                        keep = rule.keep if rule.keep is not None else length // 2
                        await _send(writer, frame[: PREFIX.size + keep])
                    for w in writers:
                        with contextlib.suppress(Exception):
                            w.close()
                    return


def _flip(frame: bytes, offset: int, bit: int) -> bytes:
    """``frame`` with bit ``bit`` of byte ``offset`` flipped."""
    changed = bytearray(frame)
    changed[offset] ^= 1 << bit
    return bytes(changed)


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    if writer.is_closing():
        return
    writer.write(data)
    with contextlib.suppress(Exception):
        await writer.drain()
