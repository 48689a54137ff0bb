"""Resume: from the link coming back to the first message sent while it was down.

Each run sets up a fresh session: a real ``Host`` with a ``ResumeBook`` on a
loopback listener, and a joiner that reached it with ``tcp.connect``
through ``CutPath``, a small forwarder in the bench that can cut the path.
Both ends wrap the session in a ``ResumableLink`` as ``app/run.py`` does
(the host registers it in its book; the joiner redials with ``tcp.resume``
through the same forwarder). Then:

1. a line goes each way, so the session is flowing;
2. the path is cut: every connection is reset, both sides, and while it is
   down the forwarder resets every new connection at once (a path that
   refuses);
3. both links report ``LinkDown``, and each end sends one ``Chat`` (it
   waits in the outbox);
4. once the joiner's link has failed at least one redial, the path comes
   back, and the clock starts;
5. each figure stops when that end's app reads the other's ``Chat``.

So a figure holds what is left of the redial backoff (0.1 s after the first
failed redial; it doubles to 2 s over a long outage), the TCP connect, the
resume handshake, the exchange of acks and the resend.

Everything runs in the bench process, on one event loop: the figure is
about 100 ms of backoff and a few round trips, against which the wake-ups of
a second process (tens of microseconds) do not count, and one clock times
both ends without comparing clocks across processes. Every byte still goes
over real loopback sockets, through the forwarder, to the real listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time

from bench.core import Config, Figure, Target
from bench.peers import LOOPBACK, SETUP_TIMEOUT, listening_host, new_secret, resumable
from confide.app.link import LinkDown
from confide.app.resumable import Leg, ResumableLink
from confide.errors import ConfideError
from confide.net import tcp
from confide.net.channel import Channel
from confide.net.resumes import ResumeBook
from confide.protocol import messages as m

SCENARIO = "resume"
CHUNK = 64 * 1024
ATTEMPT_TIMEOUT = 3.0
"""Seconds one redial may take (``app.run.RESUME_ATTEMPT_TIMEOUT``)."""
_LINGER_RESET = struct.pack("ii", 1, 0)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close a connection with a TCP reset (``SO_LINGER`` 0)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    writer.transport.abort()


class CutPath:
    """A loopback TCP forwarder to ``target`` whose path can be cut and brought back."""

    def __init__(self, target: int) -> None:
        """Forward to ``LOOPBACK:target``; call ``start``."""
        self.target = target
        self.down = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._serving: set[asyncio.Task[object]] = set()

    async def start(self) -> None:
        """Listen on a free loopback port (``port``)."""
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        """Reset every connection, both sides; reset new ones until ``restore``."""
        self.down = True
        for writer in list(self._open):
            _reset(writer)

    def restore(self) -> None:
        """Forward new connections again."""
        self.down = False

    async def close(self) -> None:
        """Reset everything, stop listening, and wait until every connection's task ended."""
        self.cut()
        if self._server is not None:
            self._server.close()
        if self._serving:
            await asyncio.wait(self._serving, timeout=SETUP_TIMEOUT)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)
        if self.down:
            _reset(writer)
            return
        try:
            far_reader, far_writer = await asyncio.open_connection(LOOPBACK, self.target)
        except OSError:
            _reset(writer)
            return
        pair = (writer, far_writer)
        self._open.update(pair)
        try:
            done = await asyncio.gather(
                _pump(reader, far_writer), _pump(far_reader, writer), return_exceptions=True
            )
            if any(isinstance(d, BaseException) for d in done):
                for side in pair:
                    _reset(side)
        finally:
            self._open.difference_update(pair)
            for side in pair:
                side.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until EOF (passed on as a half-close)."""
    while data := await reader.read(CHUNK):
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


async def _until_chat(link: ResumableLink, number: int) -> float:
    """Read ``link`` until a ``Chat`` arrives (skipping ``LinkUp``); the time it did.

    It must be the ``number``-th line: one lost or repeated would be a bug, not a figure.
    """
    while True:
        message = await link.receive()
        if isinstance(message, m.Chat):
            break
    at = time.perf_counter()
    if message.id != number:
        raise RuntimeError(f"line {message.id} arrived where line {number} was due")
    return at


async def _expect_down(link: ResumableLink) -> None:
    message = await link.receive()
    if not isinstance(message, LinkDown):
        raise RuntimeError(f"expected LinkDown after the cut, got {type(message).__name__}")


async def _one_run() -> tuple[float, float]:
    """One session, one cut; seconds from the path's return to (host's, joiner's) delivery."""
    secret = new_secret()
    book = ResumeBook()
    host, server, port = await listening_host(secret, book)
    path = CutPath(port)
    await path.start()
    failed = asyncio.Event()

    async def redial(key: bytes) -> Leg:
        """The joiner's redial, as ``app.run._tcp_redial``; it notes each failure."""
        try:
            again = await tcp.resume(LOOPBACK, path.port, key, timeout=ATTEMPT_TIMEOUT)
        except (ConfideError, OSError):
            failed.set()
            raise
        return Leg(again.channel, again.channel.conn.resume_key)

    links: list[ResumableLink] = []
    try:
        async with asyncio.timeout(SETUP_TIMEOUT):
            joined = await tcp.connect(
                LOOPBACK, path.port, secret.value, secret.room, timeout=SETUP_TIMEOUT
            )
            joiner = resumable(joined, redial)
            links.append(joiner)
            joiner.send(m.Nick("bench"))
            await joiner.drain()
            hosted = await tcp.wait_for_joiner(host)
            hoster = resumable(hosted)  # registered as app.run._Room._member does
            links.append(hoster)

            def adopt(channel: Channel, key: bytes) -> None:
                hoster.adopt(Leg(channel, key))

            entry = book.register(hoster.resume_key, adopt)
            hoster.on_end = lambda: book.forget(entry)
            await hoster.receive()  # the nick
            joiner.send(m.Chat(1, "before the cut"))
            hoster.send(m.Chat(1, "before the cut"))
            await asyncio.gather(_until_chat(hoster, 1), _until_chat(joiner, 1))

            path.cut()
            await asyncio.gather(_expect_down(joiner), _expect_down(hoster))
            joiner.send(m.Chat(2, "sent while down"))
            hoster.send(m.Chat(2, "sent while down"))
            await failed.wait()  # the joiner's link has failed at least one redial
            path.restore()
            back = time.perf_counter()
            at_host, at_joiner = await asyncio.gather(
                _until_chat(hoster, 2), _until_chat(joiner, 2)
            )
            joiner.send(m.Bye("done"))
            await joiner.drain()
        return at_host - back, at_joiner - back
    finally:
        for link in links:
            await link.close()
        await path.close()
        server.close()
        await host.close()
        await server.wait_closed()


async def run(cfg: Config) -> list[Figure]:
    """Cut and restore the path ``cfg.resume_runs`` times, a fresh session each time."""
    note = (
        "a fresh session per run; the path is cut (reset), kept down until the joiner's "
        "link failed a redial, then restored"
    )
    at_host = Figure(
        SCENARIO,
        "back -> delivered at host",
        "s",
        "lower",
        target=Target("<", 1.0),
        note=f"{note}; the joiner's line, sent while down, read by the host's app",
    )
    at_joiner = Figure(
        SCENARIO,
        "back -> delivered at joiner",
        "s",
        "lower",
        note=f"{note}; the host's line, sent while down, read by the joiner's app",
    )
    await _one_run()  # warm-up
    for _ in range(cfg.resume_runs):
        host_s, joiner_s = await _one_run()
        at_host.samples.append(host_s)
        at_joiner.samples.append(joiner_s)
    return [at_host, at_joiner]
