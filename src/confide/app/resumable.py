"""``ResumableLink``: one ``Link`` that outlives its connections (protocol version 2 and later).

How this works. A session of version 2 or later talks over successive *legs*: a leg
is one confirmed connection (a ``Link``, a ``net.channel.Channel`` in
production) and the resume secret its handshake left (``Leg``). The first
leg comes from the ordinary handshake; later ones from a resume handshake,
either dialled by the joiner's ``redial`` or handed in by the host's ticket
book through ``adopt``. The app sees one link throughout.

Delivery (docs/PROTOCOL.md §11). Every message we send except ``Ack``,
``Ping`` and ``Pong`` is *sequenced*: numbered 1, 2, 3… in the order sent,
implicitly (within one leg TCP and the record layer fix the order). It
stays in a bounded outbox (``OutboxLimits``) until the peer's cumulative
``Ack(n)`` says it has the first ``n``. The link counts the sequenced
messages it takes off the leg (``received``) and acks at the latest
``ack_delay`` after an unacked one, at once after ``ack_batch``, and as a
heartbeat when nothing was sent on the leg for ``heartbeat`` seconds
(``Liveness``). A new leg starts with our ``Ack(received)``; the peer's
first ``Ack(n)`` trims the outbox, the rest is resent in order, and only
then do new messages go out on the leg (before that they only join the
outbox). The peer does the same, so its first sequenced message on the new
leg is our ``received + 1``: nothing is lost, repeated or reordered.

A leg that fails with a ``ProtocolError`` (a record that does not open, a
malformed message, a broken ack) ends the link instead: that is tampering
or a broken peer, not a network blip, and it is reported as on a plain
``Channel``. So does any loss when ``window`` is 0 (``--resume-window 0``:
the session still acks, since its peer expects it, but does not resume).

Liveness. A leg from which nothing arrived for ``stall`` seconds is
stalled; a leg whose ``receive`` fails is lost. Either way the leg is
aborted and ``receive`` returns ``LinkDown`` (after what had arrived
before). While down, sequenced sends wait in the outbox, ``Ack``/``Ping``/
``Pong`` are dropped, a joiner's link calls ``redial`` with growing backoff
and a host's waits for ``adopt``. A leg adopted after a loss gives
``LinkUp``; none within ``window`` seconds of the loss makes ``receive``
raise ``PeerGoneError``. A ``Bye`` or ``Closed`` from the peer, or our own
``shutdown_write``, means the session is ending: the end of the leg after
that is the end of the link (``ClosedError``), not a loss, as on a plain
``Channel``.

Reading. There is no reader task: ``receive`` reads the current leg itself
(the app always has a ``receive`` waiting), so a message reaches the app
with no extra hop through the event loop, which a chat's latency would pay
on every line. ``has_received`` takes what the leg already holds (an
``Ack`` is consumed, not shown), so it stays true to ``receive`` returning
without waiting. Silence counts towards a stall only while a ``receive`` is
waiting on the leg: an app busy elsewhere does not make its peer look dead.
A message that a leg given up meanwhile still returns is dropped uncounted
(the peer resends it). One ``receive`` at a time, as on a ``Channel``.

Timers run on the event loop (``call_later``): each checks one timestamp
when it fires and re-arms for the remainder, so a message costs no timer
operation. The only tasks are a joiner's redial loop and the aborts of
given-up legs; every task and timer ends with ``close``/``abort``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass

from confide.app.link import Link, LinkDown, LinkUp
from confide.app.room_limits import WAITING_MESSAGES
from confide.errors import (
    ClosedError,
    ConfideError,
    OutboxFullError,
    PeerGoneError,
    ProtocolError,
    SessionGoneError,
    format_window,
)
from confide.protocol.messages import Ack, Bye, Closed, Message, Ping, Pong, encode


@dataclass(frozen=True, slots=True)
class Leg:
    """One confirmed connection of a session and the resume secret its handshake left."""

    link: Link
    resume_key: bytes


Redial = Callable[[bytes], Awaitable[Leg]]
"""One attempt at a new leg, given the current resume secret; ``ConfideError`` if it fails."""


@dataclass(frozen=True, slots=True)
class OutboxLimits:
    """How much may wait unacknowledged: messages, and their encoded bytes."""

    messages: int = WAITING_MESSAGES
    bytes: int = 16 << 20


@dataclass(frozen=True, slots=True)
class Liveness:
    """The link's timing, in seconds (the defaults are the protocol's)."""

    stall: float = 10.0
    """Nothing heard for this long: the leg is stalled."""
    ack_delay: float = 0.5
    """An ack goes out at the latest this long after an unacked message arrived."""
    ack_batch: int = 32
    """This many unacked messages are acked at once."""
    heartbeat: float = 2.5
    """Nothing sent on the leg for this long: an ``Ack`` goes out anyway."""
    backoff_first: float = 0.1
    """The wait after a first failed redial; it doubles after each failure…"""
    backoff_max: float = 2.0
    """…up to this."""

    def backoff(self, failures: int) -> float:
        """The wait before the next redial after ``failures`` failed ones (1 or more)."""
        return min(self.backoff_first * 2.0 ** min(failures - 1, 64), self.backoff_max)


class _LegState:
    """What the link knows of its current leg."""

    __slots__ = ("ended", "heard", "leg", "listening", "sent_at", "shut_later", "synced")

    def __init__(self, leg: Leg, synced: bool, now: float) -> None:
        self.leg = leg
        self.synced = synced
        """The peer's first ``Ack`` came (the first leg needs none): we send on it."""
        self.heard = now
        """When the ``receive`` now waiting on the leg began to (a stall is silence since)."""
        self.sent_at = now
        self.listening = False
        """A ``receive`` is waiting on the leg."""
        self.ended = False
        """The leg reached its end while the session was ending: nothing more to read."""
        self.shut_later = False
        """``shutdown_write`` came before the peer's first ``Ack``: half-close once resent."""


class ResumableLink:
    """A ``Link`` over successive legs, delivering every sequenced message exactly once."""

    def __init__(
        self,
        leg: Leg,
        *,
        redial: Redial | None,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        limits: OutboxLimits = OutboxLimits(),
        timing: Liveness = Liveness(),
    ) -> None:
        """Start on ``leg`` (a session's first, already confirmed); call within a running loop.

        ``redial`` (a joiner's) dials a new leg after a loss; without it (a
        host's) new legs come through ``adopt``. ``window`` is how long after
        a loss a new leg may come; ``clock`` (seconds) times silences.
        """
        self._loop = asyncio.get_running_loop()
        self._clock = clock
        self._redial = redial
        self._window = window
        self._limits = limits
        self._timing = timing
        self.resume_key = leg.resume_key
        """The current resume secret (the last adopted leg's)."""
        self.on_end: Callable[[], None] | None = None
        """Called once when the link ends for good (closed, or the window ended):
        a host then forgets the session's tickets."""
        # what the app reads
        self._inbox: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._end: ConfideError | None = None  # raised by receive once the inbox is empty
        self._closed = False
        self._write_shut = False
        self._peer_ending = False  # the peer said Bye/Closed
        # our direction: the outbox holds our messages acked + 1, acked + 2, …
        self._outbox: deque[tuple[Message, int]] = deque()
        self._outbox_bytes = 0
        self._acked = 0
        # the peer's direction
        self._received = 0
        self._unacked = 0
        # the current leg and its timers
        self._leg: _LegState | None = None
        self._ack_timer: asyncio.TimerHandle | None = None
        self._stall_timer: asyncio.TimerHandle | None = None
        self._heartbeat_timer: asyncio.TimerHandle | None = None
        # while down
        self._bytes_since_loss = 0
        self._window_timer: asyncio.TimerHandle | None = None
        self._redialer: asyncio.Task[None] | None = None
        self._chores: set[asyncio.Task[None]] = set()  # given-up legs being aborted
        self._start_leg(leg, synced=True)

    # -- state ------------------------------------------------------------

    @property
    def up(self) -> bool:
        """Whether a leg is working."""
        return self._leg is not None

    @property
    def received(self) -> int:
        """How many sequenced messages we took from the peer (what we ack)."""
        return self._received

    def waiting(self) -> int:
        """How many of our sequenced messages the peer has not acknowledged yet."""
        return len(self._outbox)

    # -- the Link methods -------------------------------------------------

    def send(self, message: Message) -> None:
        """Send ``message`` (or keep it for the next leg while down).

        ``ClosedError`` after ``close``/``shutdown_write`` or once the link
        ended; ``OutboxFullError`` (nothing sent or kept) if it would
        overflow the outbox.
        """
        if self._closed or self._write_shut or (self._end is not None and self._leg is None):
            raise ClosedError("connection closed")
        state = self._leg
        kind = type(message)
        if kind is Ack or kind is Ping or kind is Pong:
            if state is not None:
                self._send_on(state, message)
            return
        size = len(encode(message))  # encode's one-slot cache makes the leg's encode free
        limits = self._limits
        if len(self._outbox) >= limits.messages or self._outbox_bytes + size > limits.bytes:
            raise OutboxFullError(len(self._outbox))
        self._outbox.append((message, size))
        self._outbox_bytes += size
        if state is None:
            self._bytes_since_loss += size
        elif state.synced:
            self._send_on(state, message)

    async def receive(self) -> Message:
        """The next message, ``LinkDown`` or ``LinkUp``.

        ``PeerGoneError`` when the window ended; ``ClosedError`` after our
        ``close``, or at the end of the leg once the session was ending.
        """
        while True:
            if self._closed:
                raise ClosedError("connection closed")
            if self._inbox:
                return self._inbox.popleft()
            if self._end is not None:
                raise self._end
            state = self._leg
            if state is None or state.listening or state.ended:
                await self._wait()
                continue
            state.listening = True
            state.heard = self._clock()
            try:
                message = await state.leg.link.receive()
            except ConfideError as exc:
                if self._leg is state:
                    self._leg_ended(state, exc, _lost(exc))
                continue
            finally:
                state.listening = False
            if self._leg is state and self._took(state, message):
                return message

    def has_received(self) -> bool:
        """Whether ``receive`` returns (or raises) without waiting.

        What the leg already holds is taken now: an ``Ack`` there is consumed,
        a message kept for ``receive``, a failure turned into ``LinkDown``.
        """
        while True:
            if self._inbox or self._end is not None or self._closed:
                return True
            state = self._leg
            if state is None or state.listening or state.ended:
                return False
            if not state.leg.link.has_received():
                return False
            try:
                message = _ready(state.leg.link)
            except ConfideError as exc:
                self._leg_ended(state, exc, _lost(exc))
                continue
            if self._took(state, message):
                self._inbox.append(message)

    async def drain(self) -> None:
        """Wait until what we queued has left on the leg; at once while down.

        On a new leg, what waits for the peer's first ``Ack`` is not waited for.
        """
        if self._closed:
            raise ClosedError("connection closed")
        state = self._leg
        if state is not None:
            with contextlib.suppress(ClosedError):  # a lost leg: receive reports it
                await state.leg.link.drain()

    def queued_bytes(self) -> int:
        """The leg's unsent bytes while up; while down, the bytes sent since the loss."""
        state = self._leg
        return state.leg.link.queued_bytes() if state is not None else self._bytes_since_loss

    def shutdown_write(self) -> None:
        """Send nothing more (a half-close of the leg); while down, end the link at once.

        On a new leg before the peer's first ``Ack`` the half-close follows the resend.
        """
        if self._closed or self._write_shut:
            return
        self._write_shut = True
        state = self._leg
        if state is not None and not state.synced:
            state.shut_later = True
        elif state is not None:
            state.leg.link.shutdown_write()
        else:
            self._stop_waiting_for_a_leg()
            self._finish(ClosedError("connection closed"))

    async def close(self) -> None:
        """Flush what the leg can and close it; at once while down. Never raises."""
        await self._shut(abort=False)

    async def abort(self) -> None:
        """Drop what the peer has not taken yet and close now. Never raises."""
        await self._shut(abort=True)

    # -- legs -------------------------------------------------------------

    def adopt(self, leg: Leg) -> None:
        """Go on over ``leg``, a new confirmed connection; the current one is aborted.

        After a loss this gives ``LinkUp``. A link that has ended aborts ``leg``.
        """
        if self._closed or self._end is not None:
            self._chore(leg.link.abort())
            return
        old = self._leg
        if old is not None:
            self._stop_leg(old)
        else:
            self._stop_waiting_for_a_leg()
            self._deliver(LinkUp())
        self._start_leg(leg, synced=False)

    def _start_leg(self, leg: Leg, *, synced: bool) -> None:
        now = self._clock()
        state = _LegState(leg, synced, now)
        self._leg = state
        self.resume_key = leg.resume_key
        if not synced:
            self._send_ack()  # first on a new leg: where the peer resends from
        self._wake()  # a receive waiting while down reads the new leg
        self._stall_timer = self._loop.call_later(self._timing.stall, self._check_stall)
        self._heartbeat_timer = self._loop.call_later(self._timing.heartbeat, self._check_heartbeat)

    def _stop_leg(self, state: _LegState, *, abort: bool = True) -> None:
        """Forget ``state`` as the current leg and its timers; abort it."""
        if self._leg is state:
            self._leg = None
        for timer in (self._ack_timer, self._stall_timer, self._heartbeat_timer):
            if timer is not None:
                timer.cancel()
        self._ack_timer = self._stall_timer = self._heartbeat_timer = None
        if abort:
            self._chore(state.leg.link.abort())

    def _took(self, state: _LegState, message: Message) -> bool:
        """Account for ``message``, just taken off the current leg; whether the app gets it."""
        if isinstance(message, Ack):
            try:
                self._on_ack(state, message.n)
            except ProtocolError as exc:
                self._leg_ended(state, exc, _lost(exc))
            return False
        kind = type(message)
        if kind is Ping or kind is Pong:
            return True
        if not state.synced:
            error = ProtocolError("a message came before the peer's first ack")
            self._leg_ended(state, error, _lost(error))
            return False
        self._received += 1
        self._unacked += 1
        if kind is Bye or kind is Closed:
            self._peer_ending = True
        if self._unacked >= self._timing.ack_batch:
            self._send_ack()
        elif self._ack_timer is None:
            self._ack_timer = self._loop.call_later(self._timing.ack_delay, self._send_ack)
        return True

    def _on_ack(self, state: _LegState, n: int) -> None:
        """The peer has our first ``n``: trim the outbox; the first ack of a leg resends."""
        sent = self._acked + len(self._outbox)
        if not self._acked <= n <= sent:
            raise ProtocolError(f"the peer acknowledged {n} messages, but {self._acked}..{sent}")
        for _ in range(n - self._acked):
            _, size = self._outbox.popleft()
            self._outbox_bytes -= size
        self._acked = n
        if not state.synced:
            state.synced = True
            for message, _ in self._outbox:
                self._send_on(state, message)
            if state.shut_later:
                state.leg.link.shutdown_write()

    def _leg_ended(self, state: _LegState, error: ConfideError, reason: str) -> None:
        """The leg failed, stalled or reached its end: a loss, or the end of the session."""
        if self._leg is not state:
            return
        if self._closed or self._write_shut or self._peer_ending:
            # the session is ending: this is the link's end, and the leg stays
            # open for what we still send until the app closes it (unless it stalled)
            stalled = isinstance(error, _Stalled)
            self._stop_leg(state, abort=stalled)
            if not stalled:
                self._leg = state
                state.ended = True
            self._finish(ClosedError(reason) if stalled else error)
            return
        if isinstance(error, ProtocolError):
            # tampering, garbage or a broken peer is an attack or a bug, not a
            # blip: the session ends as a plain channel's does (every decryption
            # failure alike), and the host forgets its tickets. The leg is
            # closed, not aborted: what the record layer queued for the peer
            # (its ``Broken``) goes out, so the peer's session ends at once too
            self._stop_leg(state, abort=False)
            self._chore(state.leg.link.close())
            self._finish(error)
            return
        if self._window <= 0:  # no resume asked for: a drop ends the session, as on a Channel
            self._stop_leg(state)
            self._finish(error)
            return
        self._stop_leg(state)
        self._wake()
        self._bytes_since_loss = 0
        self._deliver(LinkDown(reason, None if isinstance(error, _Stalled) else error))
        self._window_timer = self._loop.call_later(self._window, self._give_up)
        if self._redial is not None:
            self._redialer = self._loop.create_task(self._redial_loop(self._redial))

    # -- timers -----------------------------------------------------------

    def _send_ack(self) -> None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        state = self._leg
        if state is None or self._write_shut:
            return
        self._unacked = 0
        self._send_on(state, Ack(self._received))

    def _check_stall(self) -> None:
        self._stall_timer = None
        state = self._leg
        if state is None or state.ended:
            return
        stall = self._timing.stall
        silent = self._clock() - state.heard if state.listening else 0.0
        if silent >= stall:
            why = f"no answer for {format_window(stall)}"
            self._leg_ended(state, _Stalled(why), why)
        else:
            self._stall_timer = self._loop.call_later(stall - silent, self._check_stall)

    def _check_heartbeat(self) -> None:
        self._heartbeat_timer = None
        state = self._leg
        if state is None:
            return
        beat = self._timing.heartbeat
        idle = self._clock() - state.sent_at
        if idle >= beat:
            self._send_ack()
            idle = 0.0
        self._heartbeat_timer = self._loop.call_later(beat - idle, self._check_heartbeat)

    def _give_up(self) -> None:
        self._window_timer = None
        if self._leg is None:
            self._stop_waiting_for_a_leg()
            self._finish(PeerGoneError(self._window))

    async def _redial_loop(self, redial: Redial) -> None:
        failures = 0
        while True:
            try:
                leg = await redial(self.resume_key)
            except SessionGoneError as exc:  # the host no longer has this session
                self._stop_waiting_for_a_leg()
                self._finish(exc)
                return
            except (ConfideError, OSError):
                failures += 1
                await asyncio.sleep(self._timing.backoff(failures))
                continue
            self._redialer = None  # so adopt does not cancel this task
            self.adopt(leg)
            return

    def _stop_waiting_for_a_leg(self) -> None:
        if self._window_timer is not None:
            self._window_timer.cancel()
            self._window_timer = None
        if self._redialer is not None:
            self._redialer.cancel()
            self._redialer = None

    # -- helpers ----------------------------------------------------------

    def _send_on(self, state: _LegState, message: Message) -> None:
        try:
            state.leg.link.send(message)
        except ClosedError:  # the leg is closing: receive reports how
            return
        state.sent_at = self._clock()

    async def _wait(self) -> None:
        """Wait for ``_wake`` (a new leg, a link state, the end)."""
        waiter = self._loop.create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None

    def _deliver(self, message: Message) -> None:
        self._inbox.append(message)
        self._wake()

    def _finish(self, error: ConfideError) -> None:
        if self._end is None:
            self._end = error
        self._wake()
        self._ended()

    def _ended(self) -> None:
        on_end, self.on_end = self.on_end, None
        if on_end is not None:
            on_end()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _chore(self, work: Coroutine[object, object, None]) -> None:
        task = self._loop.create_task(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def _shut(self, *, abort: bool) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop_waiting_for_a_leg()
        self._wake()
        self._ended()
        state = self._leg
        if state is not None:
            self._stop_leg(state, abort=False)
            await (state.leg.link.abort() if abort else state.leg.link.close())
        if self._chores:
            await asyncio.gather(*self._chores, return_exceptions=True)


class _Stalled(ClosedError):
    """Nothing came from the leg for ``Liveness.stall`` seconds."""


def _ready(link: Link) -> Message:
    """The message ``link.has_received()`` promised, taken without waiting.

    ``Link.has_received`` means ``receive`` returns without waiting, so its
    coroutine finishes on its first step; it is driven here by hand so that
    ``ResumableLink.has_received`` can look past an ``Ack`` synchronously.
    """
    step = link.receive()
    try:
        step.send(None)
    except StopIteration as done:
        message: Message = done.value
        return message
    step.close()
    raise RuntimeError("has_received() promised a message that receive() waited for")


def _lost(error: ConfideError) -> str:
    """``LinkDown``'s reason for a failed leg: ``connection lost: …``."""
    text = str(error)
    return text if text.startswith("connection lost") else f"connection lost: {text}"
