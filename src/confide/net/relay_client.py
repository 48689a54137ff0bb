"""Reach a host through a ``confide relay``: the client side of its routing protocol.

Joiner: ``join`` connects to the relay, sends ``JOIN`` with the code's
nameplate and waits for ``SPLICED``; ``connect`` then runs the normal
end-to-end handshake (``tcp.handshake_joiner``) over that stream. The relay
lets one address have one join waiting per room; a joiner refused with
``already-waiting`` (someone else behind the same address is being
connected) or ``host-away`` (the host is re-attaching to its room) tries
again shortly, within its timeout.

Resuming: ``meet`` sends ``MEET`` with a 16-byte rendezvous name and waits
until the relay splices it with the other end that names the same; a relay
too old to know ``MEET`` refuses it as ``bad-frame``, which ``meet`` raises
as ``RelayTooOldError`` ("can't resume sessions").

Host: ``RelayRoom.open`` makes the room's control connection (declaring the
room's size when it holds more than two, so the relay widens its join
limits) and learns the nameplate the relay allocated; the host's code takes that nameplate. For
each ``INCOMING`` on the control connection the room opens a fresh
connection, sends ``ACCEPT`` and, once spliced, hands the stream to the
normal ``Host.handle``. ``hosting`` wraps all of that for ``app.run``.

With a ``resume_window``, a room whose control connection is lost
re-attaches: ``REATTACH`` with the room's token, retried with a backoff of
0.1 s doubling to 2 s within the window (status ``lost the relay;
reconnecting…``, then ``back on the relay``). If the relay no longer knows
the room (it restarted, or its grace ran out) the host opens a new room and
shows its new code (``the relay lost this room (it restarted?); it opened a
new one``, then ``code: …``). Without a
window, as before, the room ends with its control connection. Leaving on
purpose sends ``LEAVE``, so the relay ends the room at once.

The relay wraps what it forwards in ``DATA`` frames; one connection to it,
its frames apart and the end-to-end bytes in a reader, is ``relay_stream``'s:
a ``CLOSE`` from the relay ends that reader with a ``RelayError``
carrying the relay's reason, which the UI says in words
("the relay at HOST:PORT shut down", ``confide.ui.texts``; exit 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING

from confide.errors import (
    ClosedError,
    ConfideError,
    ProtocolError,
    RefusedError,
    RelayRefusedError,
    RelayTooOldError,
)
from confide.net.host import Established, Host
from confide.net.relay_stream import (
    Address,
    RelayProtocol,
    RelayReader,
    close_quietly,
    describe_address,
    expect,
    expect_type,
)
from confide.net.relay_stream import connect as connect_stream
from confide.net.tcp import CONNECT_TIMEOUT, handshake_joiner
from confide.protocol.handshake import RandomBytes
from confide.wire import routing
from confide.wire.routing import Reason

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MAX_ACCEPTING = 16
"""Joiners the host connects through the relay at once; more wait for the relay's timeout."""
RETRY_FIRST = 0.1
"""Seconds before the first retry of a JOIN refused as ``already-waiting`` (then doubling)."""
RETRY_MAX = 1.0
RETRIED = frozenset({Reason.ALREADY_WAITING, Reason.HOST_AWAY})
"""The refusals of a JOIN that mean "in a moment": the joiner tries again within its timeout."""
RECONNECT_FIRST = 0.1
"""Seconds before a lost control connection's first re-attach attempt (then doubling)."""
RECONNECT_MAX = 2.0
FOR_GOOD = frozenset({Reason.EXPIRED})
"""Why a relay may end a room that its host does not try to get back."""

Status = Callable[[str], None]
Describe = Callable[[BaseException], str]
"""Says an error in words for a status line (the UI's ``confide.ui.texts.describe``)."""


async def join(
    relay: Address,
    nameplate: str,
    *,
    timeout: float = CONNECT_TIMEOUT,
    local_addr: Address | None = None,
) -> tuple[RelayReader, asyncio.StreamWriter]:
    """A stream to the host of ``nameplate`` through ``relay`` (exit 4 if refused).

    ``local_addr`` is the address to connect from (the system picks one if None).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = RETRY_FIRST
    while True:
        reader, writer, protocol = await connect_stream(relay, timeout, nameplate, local_addr)
        try:
            writer.write(routing.join_request(nameplate))
            await expect_type(protocol, max(0.1, deadline - loop.time()), routing.SPLICED)
        except RefusedError:
            await close_quietly(writer)
            if protocol.reason not in RETRIED or loop.time() + delay > deadline:
                raise
        except BaseException:
            await close_quietly(writer)
            raise
        else:
            return reader, writer
        await asyncio.sleep(delay)
        delay = min(RETRY_MAX, delay * 2)


async def connect(
    relay: Address,
    secret: bytes,
    room: str,
    *,
    timeout: float = CONNECT_TIMEOUT,
    status: Status | None = None,
    rand: RandomBytes = secrets.token_bytes,
    local_addr: Address | None = None,
    identity: Ed25519PrivateKey | None = None,
) -> Established:
    """Reach the host of nameplate ``room`` through ``relay`` and complete the handshake."""
    if status is not None:
        status(f"connecting to room {room} through the relay at {describe_address(relay)}")
    reader, writer = await join(relay, room, timeout=timeout, local_addr=local_addr)
    return await handshake_joiner(
        reader, writer, secret, room, timeout=timeout, rand=rand, identity=identity
    )


async def meet(
    relay: Address, name: bytes, *, timeout: float
) -> tuple[RelayReader, asyncio.StreamWriter]:
    """A stream spliced, through ``relay``, with the other end that meets under ``name``.

    ``name`` is a 16-byte rendezvous name; ``timeout`` bounds the whole wait
    for the other end (the relay also gives up after its ``--meet-timeout``:
    ``RelayRefusedError`` with ``meet-timeout``). A relay that does not know
    ``MEET`` raises ``RelayTooOldError``.
    """
    reader, writer, protocol = await connect_stream(relay, min(timeout, CONNECT_TIMEOUT))
    try:
        writer.write(routing.meet_request(name))
        await expect_type(protocol, timeout, routing.SPLICED)
    except RelayRefusedError as exc:
        await close_quietly(writer)
        if exc.reason is Reason.BAD_FRAME:
            raise RelayTooOldError(exc.reason, 0, exc.where) from None
        raise
    except BaseException:
        await close_quietly(writer)
        raise
    return reader, writer


async def _open(
    relay: Address, timeout: float, members: int
) -> tuple[RelayProtocol, asyncio.StreamWriter, routing.Opened]:
    """A control connection to ``relay`` and its answer to ``OPEN`` for ``members``."""
    return await _control(relay, timeout, routing.open_request(members))


async def _control(
    relay: Address, timeout: float, request: bytes
) -> tuple[RelayProtocol, asyncio.StreamWriter, routing.Opened]:
    """A control connection to ``relay`` and its ``OPENED`` answer to ``request``."""
    _, writer, protocol = await connect_stream(relay, timeout)
    try:
        writer.write(request)
        opened = routing.parse_opened(await expect_type(protocol, timeout, routing.OPENED))
    except routing.FrameError:
        await close_quietly(writer)
        raise ProtocolError(f"{protocol.where} sent a bad OPENED frame") from None
    except BaseException:
        await close_quietly(writer)
        raise
    return protocol, writer, opened


async def _open_room(
    relay: Address, status: Status, timeout: float, members: int
) -> tuple[RelayProtocol, asyncio.StreamWriter, routing.Opened]:
    """``_open``, again without the room size if the relay is too old to know it."""
    try:
        protocol, writer, opened = await _open(relay, timeout, members)
    except RelayRefusedError as exc:
        if members == routing.PAIR or exc.reason is not Reason.BAD_FRAME:
            raise
        protocol, writer, opened = await _open(relay, timeout, routing.PAIR)
        status(
            f"the relay at {describe_address(relay)} does not know room sizes: "
            "it limits joins as for two"
        )
    protocol.nameplate = opened.nameplate
    return protocol, writer, opened


class RelayRoom:
    """A room on a relay: the control connection and the joiners it brings."""

    def __init__(
        self,
        relay: Address,
        protocol: RelayProtocol,
        writer: asyncio.StreamWriter,
        opened: routing.Opened,
        *,
        status: Status,
        timeout: float,
        describe: Describe = str,
        members: int = routing.PAIR,
        resume_window: float = 0.0,
    ) -> None:
        """Use ``RelayRoom.open``."""
        self.relay = relay
        self.opened = opened
        self.status = status
        self.describe = describe
        self.timeout = timeout
        self.members = members
        self.resume_window = resume_window
        """Seconds to get a lost control connection back (0: the room ends with it)."""
        self._protocol = protocol
        self._writer = writer
        self._tasks: set[asyncio.Task[None]] = set()
        self._control: asyncio.Task[None] | None = None
        self._leaving = False

    @classmethod
    async def open(
        cls,
        relay: Address,
        status: Status,
        *,
        timeout: float = CONNECT_TIMEOUT,
        describe: Describe = str,
        members: int = routing.PAIR,
        resume_window: float = 0.0,
    ) -> RelayRoom:
        """Ask ``relay`` for a room of ``members`` (exit 4 if it refuses or cannot be reached).

        A room for more than two declares its size, so the relay widens its
        join limits; a relay too old to know the declaration refuses it as
        ``bad-frame``, and the room is then opened without it (with a
        status line: that relay keeps its limits for two). ``describe``
        words the errors of joins that fail later, for ``status``.
        ``resume_window`` is how long a lost control connection is retried.
        """
        protocol, writer, opened = await _open_room(relay, status, timeout, members)
        return cls(
            relay,
            protocol,
            writer,
            opened,
            status=status,
            timeout=timeout,
            describe=describe,
            members=members,
            resume_window=resume_window,
        )

    @property
    def nameplate(self) -> str:
        """The nameplate the relay gave this room."""
        return self.opened.nameplate

    @property
    def address(self) -> str:
        """The relay as ``HOST:PORT``."""
        return describe_address(self.relay)

    def start(self, host: Host) -> None:
        """Keep the host's codes on our nameplate and start bringing joiners to ``host``."""
        host.policy.use_nameplate(self.nameplate)
        self._control = asyncio.create_task(self._control_loop(host))
        self._spawn(self._ping_loop())

    async def wait_for_joiner(self, host: Host) -> Established:
        """The first joiner to complete the handshake; ``ConfideError`` if the room ends first."""
        assert self._control is not None
        getter = asyncio.ensure_future(host.next_joiner())
        try:
            await asyncio.wait({getter, self._control}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
        if getter.done() and not getter.cancelled():
            return getter.result()
        self._control.result()  # raises why the room ended
        raise ClosedError(f"{self._protocol.where} closed the room")

    async def _control_loop(self, host: Host) -> None:
        """Serve the control connection; get it back each time it is lost, within the window."""
        while True:
            try:
                await self._serve_control(host)
            except ConfideError as exc:
                if self.resume_window <= 0 or self._leaving or self._protocol.reason in FOR_GOOD:
                    raise
                lost = exc
            await self._recover(host, lost)

    async def _recover(self, host: Host, lost: ConfideError) -> None:
        """Re-attach to our room (or open a new one) within the window; else raise ``lost``."""
        self.status("lost the relay; reconnecting…")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.resume_window
        delay, last = RECONNECT_FIRST, lost
        while True:
            timeout = max(0.1, min(self.timeout, deadline - loop.time()))
            request = routing.reattach_request(self.opened.token)
            try:
                self._adopt(*await _control(self.relay, timeout, request))
            except RelayRefusedError as exc:
                last = exc
                if exc.reason in (Reason.UNKNOWN_ROOM, Reason.BAD_FRAME):  # gone, or a relay
                    try:  # too old to keep rooms: a new room
                        await self._reopen(host, timeout)
                    except ConfideError as again:
                        last = again
                    else:
                        return
            except ConfideError as exc:
                last = exc
            else:
                self.status("back on the relay")
                return
            if loop.time() + delay > deadline:
                raise last
            await asyncio.sleep(delay)
            delay = min(RECONNECT_MAX, delay * 2)

    async def _reopen(self, host: Host, timeout: float) -> None:
        """Open a new room on the relay and show its code (the old nameplate is gone)."""
        self._adopt(*await _open_room(self.relay, self.status, timeout, self.members))
        host.policy.use_nameplate(self.nameplate)
        code = host.policy.code
        if code is None:
            self.status(f"the relay lost this room; new room: {self.nameplate}")
            return
        self.status("the relay lost this room (it restarted?); it opened a new one")
        host.on_code(code)  # shows the new code

    def _adopt(
        self, protocol: RelayProtocol, writer: asyncio.StreamWriter, opened: routing.Opened
    ) -> None:
        """Make ``writer`` our control connection (its ``OPENED`` is ``opened``)."""
        self._writer.close()
        protocol.nameplate = opened.nameplate
        self._protocol, self._writer, self.opened = protocol, writer, opened

    async def _serve_control(self, host: Host) -> None:
        """Read the control connection until it ends (which raises why)."""
        while True:
            ftype, body = await expect(self._protocol, None)
            if ftype == routing.INCOMING:
                try:
                    joiner = routing.parse_incoming(body)
                except routing.FrameError:
                    raise ProtocolError(f"{self._protocol.where} sent a bad frame") from None
                if len(self._tasks) <= MAX_ACCEPTING:
                    self._spawn(self._accept(host, joiner))
            elif ftype != routing.PONG:
                raise ProtocolError(f"{self._protocol.where} sent an unexpected frame")

    async def _accept(self, host: Host, joiner: int) -> None:
        try:
            reader, writer, protocol = await connect_stream(self.relay, self.timeout)
        except ConfideError as exc:
            self.status(f"could not connect a joiner: {self.describe(exc)}")
            return
        try:
            writer.write(routing.accept_request(self.opened.token, joiner))
            await expect_type(protocol, self.timeout, routing.SPLICED)
        except ConfideError as exc:
            await close_quietly(writer)
            self.status(f"a join through the relay did not happen: {self.describe(exc)}")
            return
        host.spawn(reader, writer)

    async def _ping_loop(self) -> None:
        ping = routing.frame(routing.PING)
        while True:
            await asyncio.sleep(min(60.0, max(0.2, self.opened.idle_timeout / 3)))
            if not self._writer.is_closing():  # else the control loop is getting it back
                self._writer.write(ping)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Leave the relay: stop every task, say ``LEAVE`` and close the control connection."""
        self._leaving = True
        tasks = [*self._tasks, *([self._control] if self._control else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if not self._writer.is_closing():  # the room ends now, not after its grace
            self._writer.write(routing.frame(routing.LEAVE))
        await close_quietly(self._writer)


@contextlib.asynccontextmanager
async def hosting(
    host: Host,
    relay: Address,
    status: Status,
    *,
    timeout: float = CONNECT_TIMEOUT,
    describe: Describe = str,
    members: int = routing.PAIR,
    resume_window: float = 0,
) -> AsyncIterator[RelayRoom]:
    """Open a room of ``members`` on ``relay`` for ``host``, print where and the code.

    ``members`` is the room's limit, the host included (the relay sizes its
    join limits by it). ``resume_window`` is how long a lost control
    connection is tried again (0: the room ends with it). Everything is
    closed after.
    """
    status(f"connecting to the relay at {describe_address(relay)}")
    room = await RelayRoom.open(
        relay,
        status,
        timeout=timeout,
        describe=describe,
        members=members,
        resume_window=resume_window,
    )
    try:
        room.start(host)
        status(f"relay: {room.address}")
        code = host.policy.code
        if code is not None:
            host.on_code(code)
        else:
            status(
                f"room: {room.nameplate} (joiners run: confide join --relay {room.address} "
                f"--room {room.nameplate} --password)"
            )
        status("waiting for a joiner (Ctrl-C to stop)")
        yield room
    finally:
        await room.close()
        await host.close()
