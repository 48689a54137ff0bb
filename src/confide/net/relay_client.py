"""Reach a host through a ``confide relay``: the client side of its routing protocol.

A relay is one address or several, the nodes of one relay sharing a
directory (``relay_dial``): each request goes to the first node that
connects, as routing version 2 where it may be redirected (``JOIN``,
``MEET``, ``REATTACH``), and follows at most one ``REDIRECT`` to the node
that holds its room or rendezvous.

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
limits) and learns the nameplate the relay allocated; the host's code
takes that nameplate. For each ``INCOMING`` on the control connection the
room opens a fresh connection to the node that holds the room, sends
``ACCEPT`` and, once spliced, hands the stream to the normal
``Host.handle``. ``hosting`` wraps all of that for ``app.run``.

With a ``resume_window``, a room whose control connection is lost
re-attaches: ``REATTACH`` with the room's token (to the room's node first,
then the relay's other addresses), retried with a backoff of 0.1 s
doubling to 2 s within the window (status ``lost the relay;
reconnecting…``, then ``back on the relay``); a node whose directory is
unreachable (``directory-unavailable``) is tried again the same way. If
the relay no longer knows
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
import dataclasses
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING

from confide.errors import (
    ClosedError,
    ConfideError,
    ProtocolError,
    RelayRefusedError,
    RelayTooOldError,
)
from confide.net.host import Established, Host
from confide.net.relay_dial import Dialed, Relays, describe_relays, dial, prefer, relays_of
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
    relay: Address | Sequence[Address],
    nameplate: str,
    *,
    timeout: float = CONNECT_TIMEOUT,
    local_addr: Address | None = None,
) -> tuple[RelayReader, asyncio.StreamWriter]:
    """A stream to the host of ``nameplate`` through ``relay`` (exit 4 if refused).

    ``relay`` is one address or several (``relay_dial``: tried in turn, one
    ``REDIRECT`` followed). ``local_addr`` is the address to connect from
    (the system picks one if None).
    """
    relays = relays_of(relay)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = RETRY_FIRST
    while True:
        try:
            dialed = await dial(
                relays,
                routing.join_request(nameplate, routing.REDIRECT_VERSION),
                older=routing.join_request(nameplate),
                timeout=timeout,
                wait=max(0.1, deadline - loop.time()),
                nameplate=nameplate,
                local_addr=local_addr,
            )
        except RelayRefusedError as exc:
            if exc.reason not in RETRIED or loop.time() + delay > deadline:
                raise
        else:
            await _answer(dialed, routing.SPLICED)
            return dialed.reader, dialed.writer
        await asyncio.sleep(delay)
        delay = min(RETRY_MAX, delay * 2)


async def connect(
    relay: Address | Sequence[Address],
    secret: bytes,
    room: str,
    *,
    timeout: float = CONNECT_TIMEOUT,
    status: Status | None = None,
    rand: RandomBytes = secrets.token_bytes,
    local_addr: Address | None = None,
    identity: Ed25519PrivateKey | None = None,
    require_pq: bool = False,
) -> Established:
    """Reach the host of nameplate ``room`` through ``relay`` and complete the handshake."""
    relays = relays_of(relay)
    if status is not None:
        status(f"connecting to room {room} through the relay at {describe_relays(relays)}")
    reader, writer = await join(relays, room, timeout=timeout, local_addr=local_addr)
    return await handshake_joiner(
        reader,
        writer,
        secret,
        room,
        timeout=timeout,
        rand=rand,
        identity=identity,
        require_pq=require_pq,
    )


async def meet(
    relay: Address | Sequence[Address], name: bytes, *, timeout: float
) -> tuple[RelayReader, asyncio.StreamWriter]:
    """A stream spliced, through ``relay``, with the other end that meets under ``name``.

    ``name`` is a 16-byte rendezvous name; ``timeout`` bounds the whole wait
    for the other end (the relay also gives up after its ``--meet-timeout``:
    ``RelayRefusedError`` with ``meet-timeout``). ``relay`` is one address
    or several; a node of a cluster where the other end waits elsewhere
    redirects us there. A relay that does not know ``MEET`` raises
    ``RelayTooOldError``.
    """
    try:
        dialed = await dial(
            relays_of(relay),
            routing.meet_request(name, routing.REDIRECT_VERSION),
            older=routing.meet_request(name),
            timeout=min(timeout, CONNECT_TIMEOUT),
            wait=timeout,
        )
    except RelayRefusedError as exc:
        if exc.reason is Reason.BAD_FRAME:
            raise RelayTooOldError(exc.reason, 0, exc.where) from None
        raise
    await _answer(dialed, routing.SPLICED)
    return dialed.reader, dialed.writer


async def _answer(dialed: Dialed, wanted: int) -> bytes:
    """The body of the answer ``dialed`` got, which must be a ``wanted`` frame."""
    if dialed.ftype != wanted:
        await close_quietly(dialed.writer)
        where = dialed.protocol.where
        raise ProtocolError(f"{where} answered with an unexpected frame {dialed.ftype:#04x}")
    return dialed.body


@dataclasses.dataclass(frozen=True, slots=True)
class Control:
    """A room's control connection: the node it reached, its protocol and writer, ``OPENED``."""

    node: Address
    protocol: RelayProtocol
    writer: asyncio.StreamWriter
    opened: routing.Opened


async def _control(
    relays: Relays, timeout: float, request: bytes, older: bytes | None, *, follow: bool
) -> tuple[Control, bool]:
    """A control connection to the first of ``relays`` that connects, and its ``OPENED``.

    Also whether that node answered ``older`` (``relay_dial.dial``) instead of ``request``.
    """
    dialed = await dial(relays, request, timeout=timeout, wait=timeout, follow=follow, older=older)
    try:
        opened = routing.parse_opened(await _answer(dialed, routing.OPENED))
    except routing.FrameError:
        await close_quietly(dialed.writer)
        raise ProtocolError(f"{dialed.protocol.where} sent a bad OPENED frame") from None
    return Control(dialed.node, dialed.protocol, dialed.writer, opened), dialed.older


async def _reattach(relays: Relays, timeout: float, token: bytes) -> Control:
    """The control connection of the room with ``token`` again, from whichever node holds it."""
    request = routing.reattach_request(token, routing.REDIRECT_VERSION)
    control, _ = await _control(
        relays, timeout, request, routing.reattach_request(token), follow=True
    )
    return control


async def _open_room(relays: Relays, status: Status, timeout: float, members: int) -> Control:
    """A room for ``members`` on the first of ``relays`` that connects.

    A node too old to know room sizes gets the ``OPEN`` without it (and a status line).
    """
    older = routing.open_request() if members != routing.PAIR else None
    request = routing.open_request(members)
    control, too_old = await _control(relays, timeout, request, older, follow=False)
    if too_old:
        status(
            f"the relay at {describe_address(control.node)} does not know room sizes: "
            "it limits joins as for two"
        )
    control.protocol.nameplate = control.opened.nameplate
    return control


class RelayRoom:
    """A room on a relay: the control connection and the joiners it brings."""

    def __init__(
        self,
        relays: Relays,
        control: Control,
        *,
        status: Status,
        timeout: float,
        describe: Describe = str,
        members: int = routing.PAIR,
        resume_window: float = 0.0,
    ) -> None:
        """Use ``RelayRoom.open``."""
        self.relays = relays
        """The relay's addresses, as given (one node, or several of a cluster)."""
        self.relay = control.node
        """The node that holds the room: joiners are accepted there."""
        self.opened = control.opened
        self.status = status
        self.describe = describe
        self.timeout = timeout
        self.members = members
        self.resume_window = resume_window
        """Seconds to get a lost control connection back (0: the room ends with it)."""
        self._protocol = control.protocol
        self._writer = control.writer
        self._tasks: set[asyncio.Task[None]] = set()
        self._control: asyncio.Task[None] | None = None
        self._leaving = False

    @classmethod
    async def open(
        cls,
        relay: Address | Sequence[Address],
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
        status line: that relay keeps its limits for two). ``relay`` is one
        address or several: the room is on the first that connects.
        ``describe`` words the errors of joins that fail later, for
        ``status``. ``resume_window`` is how long a lost control connection
        is retried.
        """
        relays = relays_of(relay)
        return cls(
            relays,
            await _open_room(relays, status, timeout, members),
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
        """The node that holds the room, as ``HOST:PORT``."""
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
            try:  # our node first; a node that is gone moves on to the others
                self._adopt(await _reattach(self._nodes(), timeout, self.opened.token))
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
        self._adopt(await _open_room(self._nodes(), self.status, timeout, self.members))
        host.policy.use_nameplate(self.nameplate)
        code = host.policy.code
        if code is None:
            self.status(f"the relay lost this room; new room: {self.nameplate}")
            return
        self.status("the relay lost this room (it restarted?); it opened a new one")
        host.on_code(code)  # shows the new code

    def _nodes(self) -> Relays:
        """The relay's addresses to get the room back from: the room's node first."""
        return prefer(self.relays, self.relay)

    def _adopt(self, control: Control) -> None:
        """Make ``control`` our control connection (on whichever node it reached)."""
        self._writer.close()
        control.protocol.nameplate = control.opened.nameplate
        self.relay, self.opened = control.node, control.opened
        self._protocol, self._writer = control.protocol, control.writer

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
    relay: Address | Sequence[Address],
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
    connection is tried again (0: the room ends with it). ``relay`` is one
    address or several (the room is on the first that connects). Everything
    is closed after.
    """
    status(f"connecting to the relay at {describe_relays(relays_of(relay))}")
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
