"""A TCP proxy for tests that breaks the link on command: resets, blackholes, outages, delay.

``FaultProxy(("127.0.0.1", port))`` listens on ``127.0.0.1`` (a free port,
``proxy.port``) and forwards every connection it accepts to the target. It
runs its own asyncio loop on a daemon thread (``loop_thread.LoopThread``),
so a synchronous test that drives real ``confide`` processes can use it
(``with FaultProxy(target) as proxy``). Every control is thread-safe and
returns only once it has been applied on the loop:

- ``reset()`` cuts every current connection, both sides, with a TCP reset
  (``SO_LINGER`` 0, then close), and keeps accepting new ones;
- ``blackhole()`` stops forwarding, both ways, without closing anything, as
  a machine that vanished (lid closed, Wi-Fi gone) does. The proxy then
  *does not read* the connection at all, rather than reading and
  discarding: unread bytes fill the kernel buffers and the sender's writes
  stall, as they do when nothing acknowledges them, and the proxy holds no
  bytes of its own. Bytes it had read and not yet sent (see ``delay``) are
  dropped, like packets in flight. New connections are accepted (the kernel
  would complete their handshake anyway) but never reach the target.
  ``restore()`` ends the blackhole for new connections only: a connection
  that was blackholed stays dead, open and silent, until ``reset()``,
  ``down()`` or ``close()`` cuts it. Real TCP would have timed it out by
  the time the path returned, and confide must notice a dead connection by
  itself (its liveness check), not be told by a reset from the proxy.
  A userspace proxy can't test the kernel's own backstop
  (``TCP_USER_TIMEOUT``): the proxy's kernel still acknowledges what fits in
  its buffers; cut a veth pair (``netns.py``) for that;
- ``down()`` is a link cut for a while: the listener closes (new connections
  are refused: the port stays bound, so nothing else can take it) and every
  current connection is reset; ``up()`` listens again on the same port;
- ``delay(seconds)`` holds every chunk read, either way, for ``seconds``
  before sending it on, keeping order (a one-way delay, applied to chunks
  read after the call);
- ``cut_every(seconds)`` resets every ``seconds`` on the loop until
  ``stop_cutting()``;
- ``close()`` (or leaving the ``with``) stops the cutting, closes the
  listener, resets every connection and ends the thread.

``counters()`` is a snapshot (``FaultCounters``) and ``wait_for`` waits,
bounded, until a condition on it holds, so tests never sleep. Nothing is
unbounded: each direction of a connection holds at most ``MAX_BUFFERED``
bytes (plus one read), then stops reading until the other side takes them.

How a connection is served: one task dials the target, then four run in a
``TaskGroup``, a reader and a writer for each direction, with a bounded
queue of ``(due time, chunk)`` between them (the reader stamps, the writer
waits for the stamp). EOF is passed on as a half-close; an error on either
side (a real reset, a broken pipe) resets both. Sockets are closed only
once no task uses them, so a file descriptor never changes hands under a
pending read. If the target can't be reached, the client is reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from loop_thread import LoopThread

LISTEN_HOST = "127.0.0.1"
"""Where the proxy listens."""

CHUNK = 64 * 1024
"""Bytes read at once from a socket."""

MAX_BUFFERED = 2 * 1024 * 1024
"""Bytes one direction of one connection may hold before the proxy stops reading it."""

WAIT_TIMEOUT = 8.0
"""Seconds ``wait_for`` waits by default (as ``proc.DEFAULT_TIMEOUT``)."""

_LINGER_RESET = struct.pack("ii", 1, 0)


@dataclass(frozen=True, slots=True)
class FaultCounters:
    """What the proxy has done so far (a snapshot)."""

    accepted: int
    """Connections accepted since the start."""
    live: int
    """Connections the proxy holds open, forwarding or blackholed."""
    forwarding: int
    """Live connections joined to the target and not blackholed."""
    resets: int
    """Connections cut with a reset by ``reset``, ``down`` or ``cut_every``."""
    cuts: int
    """Times every connection was cut (each ``reset``, ``down`` and ``cut_every`` tick)."""
    to_target: int
    """Bytes forwarded from clients to the target."""
    to_client: int
    """Bytes forwarded from the target to clients."""
    buffered: int
    """Bytes read and not yet sent on, over every connection and direction."""


class _Queue:
    """One direction's chunks, in order, with the time each may be sent; bounded in bytes."""

    def __init__(self, on_change: Callable[[int], None]) -> None:
        """An empty queue; ``on_change(n)`` hears of every change of its size in bytes."""
        self._on_change = on_change
        self._items: deque[tuple[float, bytes]] = deque()
        self._bytes = 0
        self._changed = asyncio.Condition()

    async def put(self, due: float, data: bytes) -> None:
        """Wait until there is room, then queue ``data`` (``b""`` is EOF)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._bytes < MAX_BUFFERED)
            self._items.append((due, data))
            self._bytes += len(data)
            self._on_change(len(data))
            self._changed.notify_all()

    async def get(self) -> tuple[float, bytes]:
        """Wait for the oldest chunk and take it."""
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._items))
            due, data = self._items.popleft()
            self._bytes -= len(data)
            self._on_change(-len(data))
            self._changed.notify_all()
            return due, data

    def drop(self) -> None:
        """Forget every queued chunk (the connection stopped forwarding)."""
        self._on_change(-self._bytes)
        self._items.clear()
        self._bytes = 0


@dataclass(eq=False)
class _Link:
    """One accepted connection and, once dialled, its connection to the target."""

    client: socket.socket
    server: socket.socket | None = None
    task: asyncio.Task[None] | None = None
    forwarding: bool = False
    dead: bool = False
    closed: bool = False


class FaultProxy:
    """A loopback TCP proxy that can reset, blackhole, cut and delay (see the module doc)."""

    def __init__(self, target: tuple[str, int]) -> None:
        """Prepare a proxy to ``target`` (host, port); ``start`` (or ``with``) runs it."""
        self.target = target
        self.port = 0
        self._runner = LoopThread("faultproxy")
        self._cond = threading.Condition()
        self._numbers = dict.fromkeys(FaultCounters.__dataclass_fields__, 0)
        # everything below is touched on the loop thread only
        self._links: set[_Link] = set()
        self._listener: socket.socket | None = None
        self._placeholder: socket.socket | None = None
        self._acceptor: asyncio.Task[None] | None = None
        self._cutter: tuple[asyncio.Event, asyncio.Task[None]] | None = None
        self._blackholed = False
        self._delay = 0.0

    # -- life cycle --------------------------------------------------------

    def start(self) -> FaultProxy:
        """Start listening; ``port`` is then the port to connect to."""
        self._runner.start()
        self._runner.run(self._listen())
        return self

    @property
    def at(self) -> str:
        """``127.0.0.1:PORT`` of the proxy, for ``confide join --at``."""
        return f"{LISTEN_HOST}:{self.port}"

    def close(self) -> None:
        """Stop cutting, close the listener, reset every connection, end the thread."""
        if not self._runner.thread.is_alive():
            self._runner.stop()  # (never started: only the loop to close)
            return
        try:
            self._runner.run(self._shutdown())
        finally:
            self._runner.stop()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- controls (each returns once applied) -------------------------------

    def reset(self) -> None:
        """Cut every current connection, both sides, with a TCP reset; keep accepting."""
        self._runner.run(self._cut_all())

    def blackhole(self) -> None:
        """Stop forwarding (and reading) every connection, current and new, closing none."""
        self._runner.run(self._blackhole())

    def restore(self) -> None:
        """End the blackhole for new connections (blackholed ones stay dead)."""
        self._runner.run(self._set_blackholed(False))

    def down(self) -> None:
        """Refuse new connections (the port stays reserved) and reset current ones."""
        self._runner.run(self._down())

    def up(self) -> None:
        """Listen again on the same port (nothing if already listening)."""
        self._runner.run(self._listen())

    def delay(self, seconds: float) -> None:
        """Hold every chunk read from now on ``seconds`` before sending it on, either way."""
        if seconds < 0:
            raise ValueError(f"a delay can't be negative: {seconds}")
        self._runner.run(self._set_delay(seconds))

    def cut_every(self, seconds: float) -> None:
        """Reset every connection every ``seconds`` until ``stop_cutting`` (replaces a previous)."""
        if seconds <= 0:
            raise ValueError(f"a period must be positive: {seconds}")
        self._runner.run(self._start_cutting(seconds))

    def stop_cutting(self) -> None:
        """Stop ``cut_every``; returns once no cut is under way."""
        self._runner.run(self._stop_cutting())

    # -- counters ----------------------------------------------------------

    def counters(self) -> FaultCounters:
        """A snapshot of what the proxy has done so far."""
        with self._cond:
            return FaultCounters(**self._numbers)

    def wait_for(
        self, condition: Callable[[FaultCounters], bool], timeout: float = WAIT_TIMEOUT
    ) -> FaultCounters:
        """Wait until ``condition(counters)`` holds and return those counters; else fail."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                now = FaultCounters(**self._numbers)
                if condition(now):
                    return now
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"fault proxy: not reached within {timeout:g} s: {now}")
                self._cond.wait(min(left, 0.5))

    def _count_buffered(self, change: int) -> None:
        self._count(buffered=change)

    def _count(self, **changes: int) -> None:
        with self._cond:
            for name, change in changes.items():
                self._numbers[name] += change
            self._cond.notify_all()

    # -- on the loop: listening --------------------------------------------

    async def _listen(self) -> None:
        if self._listener is not None:
            return
        listener = _reusable_socket()
        try:
            listener.bind((LISTEN_HOST, self.port))
            listener.listen(128)
            listener.setblocking(False)
        except BaseException:
            listener.close()
            raise
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._acceptor = asyncio.create_task(self._accept_loop(listener))

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, _ = await loop.sock_accept(listener)
            except ConnectionAbortedError:
                continue
            client.setblocking(False)
            link = _Link(client)
            self._links.add(link)
            self._count(accepted=1, live=1)
            if self._blackholed:
                link.dead = True
            else:
                link.task = asyncio.create_task(self._forward(link))

    async def _stop_listening(self, *, keep_port: bool) -> None:
        """Close the listener; with ``keep_port`` the port stays bound (not listening), ours."""
        if self._acceptor is not None:
            self._acceptor.cancel()
            await asyncio.gather(self._acceptor, return_exceptions=True)
            self._acceptor = None
        if self._listener is None:
            return
        self._listener.close()
        self._listener = None
        if not keep_port:
            return
        placeholder = _reusable_socket()
        try:
            placeholder.bind((LISTEN_HOST, self.port))
        except BaseException:
            placeholder.close()
            raise
        self._placeholder = placeholder

    # -- on the loop: controls ---------------------------------------------

    async def _cut_all(self, *, counted: bool = True) -> None:
        links = list(self._links)
        await _halt(links)
        links = [link for link in links if not link.closed]  # (some may have ended meanwhile)
        if counted:  # counted first: a test that saw the reset finds it counted
            self._count(resets=len(links), cuts=1)
        for link in links:
            self._close_link(link, rst=True)

    async def _blackhole(self) -> None:
        self._blackholed = True
        links = [link for link in self._links if not link.dead]
        await _halt(links)
        for link in links:
            if not link.closed:
                self._set_forwarding(link, False)
                link.dead = True

    async def _set_blackholed(self, on: bool) -> None:
        self._blackholed = on

    async def _down(self) -> None:
        await self._stop_listening(keep_port=True)
        await self._cut_all()

    async def _set_delay(self, seconds: float) -> None:
        self._delay = seconds

    async def _start_cutting(self, period: float) -> None:
        await self._stop_cutting()
        stop = asyncio.Event()
        self._cutter = (stop, asyncio.create_task(self._cut_loop(period, stop)))

    async def _cut_loop(self, period: float, stop: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.wait_for(stop.wait(), period)
            except TimeoutError:
                await self._cut_all()
            else:
                return

    async def _stop_cutting(self) -> None:
        if self._cutter is None:
            return
        stop, task = self._cutter
        self._cutter = None
        stop.set()  # the loop ends between cuts: never cancelled half way through one
        await task

    async def _shutdown(self) -> None:
        await self._stop_cutting()
        await self._stop_listening(keep_port=False)
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None
        await self._cut_all(counted=False)

    # -- on the loop: forwarding -------------------------------------------

    async def _forward(self, link: _Link) -> None:
        """Dial the target, then pump both ways until both ends close (or one fails)."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        link.server = socket.socket(family, socket.SOCK_STREAM)
        link.server.setblocking(False)
        upstream, downstream = _Queue(self._count_buffered), _Queue(self._count_buffered)
        broken = False
        try:
            await loop.sock_connect(link.server, self.target)
            for sock in (link.client, link.server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._set_forwarding(link, True)
            async with asyncio.TaskGroup() as pumps:
                pumps.create_task(self._read(link.client, upstream))
                pumps.create_task(self._write(link.server, upstream, "to_target"))
                pumps.create_task(self._read(link.server, downstream))
                pumps.create_task(self._write(link.client, downstream, "to_client"))
        except* OSError:
            broken = True
        finally:  # also when cancelled: what was read and not sent is dropped
            upstream.drop()
            downstream.drop()
        self._close_link(link, rst=broken)

    async def _read(self, source: socket.socket, queue: _Queue) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.sock_recv(source, CHUNK)
            await queue.put(loop.time() + self._delay, data)
            if not data:
                return

    async def _write(self, sink: socket.socket, queue: _Queue, counter: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                sink.shutdown(socket.SHUT_WR)
                return
            await loop.sock_sendall(sink, data)
            self._count(**{counter: len(data)})

    def _set_forwarding(self, link: _Link, on: bool) -> None:
        if link.forwarding != on:
            link.forwarding = on
            self._count(forwarding=1 if on else -1)

    def _close_link(self, link: _Link, *, rst: bool) -> None:
        """Close both sockets of a link no task uses any more (with a reset if ``rst``)."""
        if link.closed:
            return
        link.closed = True
        self._set_forwarding(link, False)
        self._links.discard(link)
        self._count(live=-1)  # counted first, as in _cut_all
        for sock in (link.client, link.server):
            if sock is None:
                continue
            if rst:  # (fails harmlessly on a socket never connected or already reset)
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            sock.close()


async def _halt(links: list[_Link]) -> None:
    """Cancel the tasks serving ``links`` and wait until they have stopped."""
    tasks = [link.task for link in links if link.task is not None and not link.task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)


def _reusable_socket() -> socket.socket:
    """A TCP socket that may share its port with our own closed or bound-only sockets."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock
