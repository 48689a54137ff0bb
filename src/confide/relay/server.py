"""The relay server: pair hosts with joiners by nameplate and splice their bytes.

Every connection is one ``Conn`` (``conn``: an ``asyncio.BufferedProtocol`` with
slots): no task, no stream objects, no buffer of its own while it is idle.
All connections read into one shared buffer. A connection in its routing
phase copies what it read into a small ``head`` (at most one frame's
worth); a spliced connection hands the bytes straight to its peer's
transport, wrapped in a ``DATA`` header that sits in four bytes reserved in
front of the shared buffer, so forwarding is one ``recv_into`` and one
``send`` per read with no per-byte work.

Every write respects a high-water mark. Before the splice a connection's
write buffer may hold at most ``ROUTING_HIGH_WATER`` bytes: above it the
relay stops reading that connection (a host that sends PINGs and never
reads its PONGs is simply no longer read), and a JOIN whose host's control
link is over it is refused (``no-answer``) rather than queued. After the
splice the mark is ``HIGH_WATER``, and above it the relay stops reading the
peer that fills it.

One ticker, not one timer per connection, enforces the deadlines: the
hello timeout (a new connection must name its room; a joiner's host must
answer), the idle timeout (pairs and control links), the room lifetime, and
a grace period for connections that will not take their last bytes.

Life of a room: ``OPEN`` makes it (the control connection); each ``JOIN``
is announced to the host as ``INCOMING``; the host's ``ACCEPT`` on a new
connection splices it with that joiner. A room ends when its control
connection does; pairs already spliced carry on. On SIGTERM every end gets
``CLOSE(shutdown)`` before the socket closes.

A room whose control connection is lost (not left with ``LEAVE``) is kept
``--room-grace`` seconds with its nameplate and token: JOINs meanwhile are
refused ``host-away`` (retryable: confide's joiner tries again) and waiting
joiners are told the same; ``REATTACH`` with the token makes a connection
the room's control connection again (answered ``OPENED``). The grace ends
in the ticker.

A ``MEET`` needs no room: the first with a rendezvous name waits in
``meets`` (up to ``--meet-timeout``), the second is spliced with it, and the
name stays in ``met`` while that pair lives, so a third is refused. Every
ending removes the entries (``hangup``), so nothing is left behind. The log
names a rendezvous by its first 4 bytes in hex only.

A host may declare its room's size in ``OPEN``; the room's join budgets
(its own and each address's in it) are then sized by ``limits.room_budgets``.

With ``--redis`` the relay is one node of several sharing a directory
(``cluster``): ``OPEN``, ``JOIN``, ``MEET`` and ``REATTACH`` then go to
``Cluster.route``, which parks the connection (it is not read) while one
Redis script decides, and comes back to the same steps below
(``open_room``, ``announce``, ``meet_here``, ``take_over``), or redirects
the client. ``ACCEPT``, the control links and the splices never touch
Redis, and without ``--redis`` nothing here awaits anything.

Joins are limited fairly per source address (``limits`` says how): a JOIN
is checked, in order, against its address's budget for rooms that do not
exist (a JOIN of a missing room spends it), the rule of one waiting join
per address per room, its address's budget in that room, and the room's
budget for all addresses. Only a JOIN announced to the host spends the last
two, and a refused JOIN spends nothing, so one address cannot use up what
another needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from confide.relay.conn import (
    CLOSING,
    CONTROL,
    MEETING,
    NEW,
    PARKED,
    ROUTING_HIGH_WATER,
    SPLICED,
    WAITING,
    Conn,
    Room,
)
from confide.relay.limits import Budgets, Limits, room_budgets, source_key
from confide.relay.log import EventLog, Value
from confide.wire import routing
from confide.wire.routing import HEADER, Reason

if TYPE_CHECKING:
    from confide.relay.cluster import Cluster

READ_SIZE = 256 * 1024
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
CLOSE_GRACE = 5.0
"""Seconds a closing connection gets to take its last bytes before it is aborted."""
SHUTDOWN_GRACE = 3.0
BACKLOG = 1024
_RETAINS_VIEWS = sys.version_info >= (3, 12)
"""Whether a transport may keep a view of what it was given to write (3.12+)."""

NAME_SHOWN = 4
"""Bytes of a rendezvous name the log shows (as hex): enough to follow, too few to use."""
_PONG = routing.frame(routing.PONG)
_SPLICED = routing.frame(routing.SPLICED)


class Relay:
    """Rooms, connections and limits of one running relay."""

    def __init__(self, limits: Limits, log: EventLog) -> None:
        """An empty relay; ``serve`` binds it to a socket."""
        self.limits = limits
        self.log = log
        self.conns: set[Conn] = set()
        self.per_ip: dict[str, int] = {}
        self.rooms: dict[str, Room] = {}
        self.by_token: dict[bytes, Room] = {}
        self.miss_budgets = Budgets(limits.unknown_room_burst, limits.unknown_room_rate)
        """Per address (``source_key``): JOINs of rooms that do not exist."""
        self.join_budgets = Budgets(limits.join_burst, limits.join_rate)
        """Per room token and address: JOINs announced to the room's host (sized per room)."""
        self.meet_budgets = Budgets(limits.join_burst, limits.join_rate)
        """Per address (``source_key``): MEETs."""
        self.meets: dict[bytes, Conn] = {}
        """Rendezvous names with one end waiting."""
        self.met: dict[bytes, Conn] = {}
        """Rendezvous names whose two ends are spliced (one of them)."""
        self.stopping = False
        self.cluster: Cluster | None = None
        """The shared directory of a relay node started with ``--redis``; None: all in memory."""
        self.server: asyncio.AbstractServer | None = None
        self.now = time.monotonic()
        self.head_room = HEADER + limits.max_frame
        deadlines = (limits.hello_timeout, limits.idle_timeout, limits.meet_timeout)
        grace = (limits.room_grace,) if limits.room_grace > 0 else ()
        self.tick_interval = max(0.05, min(1.0, *(d / 4 for d in (*deadlines, *grace))))
        self._wake = asyncio.Event()
        self._new_buffer()

    def _new_buffer(self) -> None:
        self.buffer = bytearray(HEADER + READ_SIZE)
        self.whole = memoryview(self.buffer)
        self.view = self.whole[HEADER:]

    def protocol(self) -> Conn:
        """The protocol factory for the listening server."""
        return Conn(self)

    # -- arrivals and departures -----------------------------------------

    def admit(self, c: Conn) -> None:
        """A new connection: count it per IP and refuse it if over a limit."""
        assert c.transport is not None
        peer = c.transport.get_extra_info("peername")
        c.ip = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        c.last = now = time.monotonic()
        c.deadline = now + self.limits.hello_timeout
        self.conns.add(c)
        count = self.per_ip.get(c.ip, 0) + 1
        self.per_ip[c.ip] = count
        if self.stopping:
            self._close(c, Reason.SHUTDOWN)
        elif count > self.limits.max_per_ip:
            self.refuse(c, Reason.TOO_MANY_CONNECTIONS)
        elif len(self.conns) > self.limits.max_connections:
            self.refuse(c, Reason.RELAY_BUSY)

    def lost(self, c: Conn) -> None:
        """A socket closed: forget it (and whatever depended on it)."""
        self.hangup(c, None, None, "lost")
        if c in self.conns:
            self.conns.discard(c)
            left = self.per_ip.get(c.ip, 1) - 1
            if left > 0:
                self.per_ip[c.ip] = left
            else:
                self.per_ip.pop(c.ip, None)
        c.peer = None
        if self.stopping and not self.conns:
            self._wake.set()

    # -- the routing phase -----------------------------------------------

    def routing_bytes(self, c: Conn, nbytes: int) -> None:
        """Bytes from a connection that is not spliced yet."""
        if c.head is None:
            c.head = bytearray()
        c.head += self.view[:nbytes]
        c.last = time.monotonic()
        try:
            if c.state == NEW:
                got = routing.take_frame(c.head, self.limits.max_frame)
                if got is None:
                    return
                self._request(c, routing.parse_request(*got))
        except routing.FrameError as exc:
            self.hangup(c, exc.reason, Reason.HOST_GONE, exc.reason.label)
            return
        self.after_request(c)

    def after_request(self, c: Conn) -> None:
        """What follows a request in the same reads: PINGs on a control link, or too much."""
        try:
            if c.state == CONTROL:
                self._control_frames(c)
            elif c.state != PARKED and c.head is not None and len(c.head) > self.limits.max_frame:
                self.hangup(c, Reason.BAD_FRAME, None, "data-before-splice")
        except routing.FrameError as exc:
            self.hangup(c, exc.reason, Reason.HOST_GONE, exc.reason.label)

    def park(self, c: Conn) -> None:
        """Stop reading ``c`` while the directory decides its request."""
        assert c.transport is not None
        c.state = PARKED
        c.transport.pause_reading()

    def unpark(self, c: Conn) -> bool:
        """Read ``c`` again once its request is decided; False if it closed meanwhile."""
        if c.state != PARKED or c.transport is None or c.transport.is_closing():
            return False
        c.state, c.last = NEW, time.monotonic()
        c.transport.resume_reading()
        return True

    def _control_frames(self, c: Conn) -> None:
        assert c.head is not None
        assert c.transport is not None
        while (got := routing.take_frame(c.head, self.limits.max_frame)) is not None:
            if got[0] == routing.LEAVE and c.room is not None:
                self._end_room(c.room, None, Reason.HOST_GONE, "left")
                return
            if got[0] != routing.PING:
                raise routing.FrameError(Reason.BAD_FRAME, "only PING or LEAVE on a control link")
            c.transport.write(_PONG)

    def _request(self, c: Conn, req: routing.Request) -> None:
        if self.cluster is not None and req.kind != routing.ACCEPT:
            self.cluster.route(c, req)
        elif req.kind == routing.OPEN:
            self._open(c, req.members)
        elif req.kind == routing.JOIN:
            self._join(c, req.nameplate)
        elif req.kind == routing.MEET:
            self._meet(c, req.name)
        elif req.kind == routing.REATTACH:
            self._reattach(c, req.token)
        else:
            self._accept(c, req.token, req.joiner)

    def _open(self, c: Conn, members: int) -> None:
        assert c.transport is not None
        nameplate = self._allocate() if len(self.rooms) < self.limits.max_rooms else None
        if nameplate is None:
            self.refuse(c, Reason.RELAY_FULL)
            return
        self.open_room(c, nameplate, members)

    def open_room(self, c: Conn, nameplate: str, members: int, token: bytes = b"") -> None:
        """Make the room ``nameplate`` (free) with ``c`` as its control connection."""
        room = Room(nameplate, c, room_budgets(self.limits, members), c.last, token)
        self.rooms[nameplate] = room
        self.by_token[room.token] = room
        self._take_control(c, room)
        if members > routing.PAIR:
            self.log.event("opened", room=nameplate, ip=c.ip, members=room.budgets.members)
        else:
            self.log.event("opened", room=nameplate, ip=c.ip)

    def _take_control(self, c: Conn, room: Room) -> None:
        """Make ``c`` the control connection of ``room`` and tell it ``OPENED``."""
        assert c.transport is not None
        lim = self.limits
        c.state, c.room, room.control, room.away = CONTROL, room, c, 0.0
        left = lim.room_lifetime - (c.last - room.created)
        answer = routing.Opened(room.nameplate, room.token, lim.idle_timeout, left)
        c.transport.write(routing.opened(answer))

    def _reattach(self, c: Conn, token: bytes) -> None:
        now = c.last
        source = source_key(c.ip)
        wait = self.miss_budgets.wait(source, now)
        if wait:  # a token is as hard to guess as a code, and as limited
            self.refuse(c, Reason.RATE_LIMITED, wait, request="reattach")
            return
        room = self.by_token.get(token)
        if room is None:
            self.miss_budgets.spend(source, now)
            self.refuse(c, Reason.UNKNOWN_ROOM, request="reattach")
            return
        self.take_over(c, room)

    def take_over(self, c: Conn, room: Room) -> None:
        """Make ``c`` the control connection of ``room`` again (a ``REATTACH``)."""
        now = c.last
        old, away = room.control, room.away
        if old is not None:  # the host saw its link die before we did: the new one wins
            old.room = None
            self._close(old, None)
        self._take_control(c, room)
        secs = now - away if old is None else 0.0
        self.log.event("reattached", room=room.nameplate, ip=c.ip, away=secs)

    def _meet(self, c: Conn, name: bytes) -> None:
        now = c.last
        source = source_key(c.ip)
        shown = name[:NAME_SHOWN].hex()
        wait = self.meet_budgets.wait(source, now)
        if wait:
            self.refuse(c, Reason.RATE_LIMITED, wait, rendezvous=shown)
            return
        if name in self.met:
            self.refuse(c, Reason.MEET_TAKEN, rendezvous=shown)
            return
        self.meet_budgets.spend(source, now)
        self.meet_here(c, name)

    def meet_here(self, c: Conn, name: bytes) -> None:
        """``c`` comes to the rendezvous ``name`` (budget spent): wait, or pair with the first."""
        shown = name[:NAME_SHOWN].hex()
        if name in self.met:
            self.refuse(c, Reason.MEET_TAKEN, rendezvous=shown)
            return
        now = c.last
        first = self.meets.pop(name, None)
        c.name = name
        if first is None:
            self.meets[name] = c
            c.state, c.deadline = MEETING, now + self.limits.meet_timeout
            self.log.event("meet", rendezvous=shown, ip=c.ip)
            return
        self.met[name] = c
        c.is_joiner = True  # one end of the pair, for the idle check and the up/down counts
        self._pair(c, first)
        self.log.event("met", rendezvous=shown, ip=c.ip, first=first.ip)

    def _allocate(self) -> str | None:
        """A free nameplate, as short as the number of rooms allows."""
        return next(self.nameplate_candidates(), None)

    def nameplate_candidates(self) -> Iterator[str]:
        """Random nameplates this relay has no room of, shortest first.

        Of 16 tries of 3 digits, then 16 of 4, and so on up to 7, those
        free here: the first is the room's (a cluster's directory takes the
        first that no node holds, in this order).
        """
        for digits in range(3, 8):
            for _ in range(16):
                nameplate = str(1 + secrets.randbelow(10**digits - 1))
                if nameplate not in self.rooms:
                    yield nameplate

    def _join(self, c: Conn, nameplate: str) -> None:
        now = c.last
        source = source_key(c.ip)
        wait = self.miss_budgets.wait(source, now)
        if wait:  # before the lookup: a prober out of budget learns nothing more
            self.refuse(c, Reason.RATE_LIMITED, wait, room=nameplate)
            return
        room = self.rooms.get(nameplate)
        if room is None:
            self.miss_budgets.spend(source, now)
            self.refuse(c, Reason.UNKNOWN_ROOM, room=nameplate)
            return
        refusal = self.join_refusal(c, room)
        if refusal is not None:
            self.refuse(c, *refusal, room=nameplate)
            return
        key = (room.token, source)
        wait = self.join_budgets.wait(key, now) or room.bucket.wait(now)
        if wait:
            self.refuse(c, Reason.RATE_LIMITED, wait, room=nameplate)
            return
        budgets = room.budgets
        self.join_budgets.spend(key, now, budgets.address_burst, budgets.address_rate)
        room.bucket.spend()
        self.announce(c, room)

    def join_refusal(self, c: Conn, room: Room) -> tuple[Reason, int] | None:
        """Why this room turns the JOIN ``c`` away now (and the retry-after), if it does."""
        if room.control is None:  # in its grace period: the host may be back any moment
            return Reason.HOST_AWAY, 1
        source = source_key(c.ip)
        if any(source_key(w.ip) == source for w in room.waiting.values()):
            return Reason.ALREADY_WAITING, 0
        control = room.control.transport
        if control is None or control.get_write_buffer_size() >= ROUTING_HIGH_WATER:
            return Reason.NO_ANSWER, 0  # the host reads nothing
        return None

    def announce(self, c: Conn, room: Room) -> None:
        """Tell ``room``'s host about the joiner ``c`` (its budgets spent), which then waits."""
        assert room.control is not None
        assert room.control.transport is not None
        room.next_id += 1
        room.joins += 1
        room.waiting[room.next_id] = c
        c.state, c.room, c.joiner, c.is_joiner = WAITING, room, room.next_id, True
        c.deadline = c.last + self.limits.hello_timeout
        room.control.transport.write(routing.incoming(room.next_id))
        self.log.event("join", room=room.nameplate, joiner=room.next_id, ip=c.ip)

    def _accept(self, c: Conn, token: bytes, joiner: int) -> None:
        room = self.by_token.get(token)
        if room is None:
            self.refuse(c, Reason.UNKNOWN_ROOM)
            return
        j = room.waiting.pop(joiner, None)
        if j is None:
            self.refuse(c, Reason.PEER_GONE, room=room.nameplate)
            return
        self._splice(j, c, room)

    def _splice(self, j: Conn, h: Conn, room: Room) -> None:
        room.pairs += 1
        h.joiner, h.room = j.joiner, room
        self._pair(j, h)
        self.log.event("joined", room=room.nameplate, joiner=j.joiner, ip=j.ip)

    def _pair(self, j: Conn, h: Conn) -> None:
        """Splice ``j`` and ``h``: ``SPLICED`` to both, then what each sent early."""
        now = time.monotonic()
        for a, b in ((j, h), (h, j)):
            assert a.transport is not None
            a.state, a.peer, a.started, a.last, a.count = SPLICED, b, now, now, 0
            a.transport.set_write_buffer_limits(HIGH_WATER, LOW_WATER)
            a.transport.write(_SPLICED)
        for a in (j, h):
            early, a.head = a.head, None
            if early:
                self._send_data(a, bytes(early))

    # -- the spliced phase -------------------------------------------------

    def forward(self, src: Conn, nbytes: int) -> None:
        """Send what ``src`` just read into the shared buffer to its peer, as one DATA frame."""
        dst = src.peer
        src.count += nbytes
        src.last = self.now
        if dst is None or dst.state != SPLICED or dst.transport is None:
            return
        buf = self.buffer
        buf[0] = routing.DATA
        buf[1:HEADER] = nbytes.to_bytes(3, "big")
        transport = dst.transport
        transport.write(self.whole[: HEADER + nbytes])
        if _RETAINS_VIEWS and transport.get_write_buffer_size():
            self._new_buffer()  # the transport may hold a view of the old one

    def _send_data(self, src: Conn, data: bytes) -> None:
        src.count += len(data)
        dst = src.peer
        if dst is not None and dst.transport is not None:
            dst.transport.write(routing.header(routing.DATA, len(data)) + data)

    # -- endings -----------------------------------------------------------

    def redirect(self, c: Conn, address: str, **fields: Value) -> None:
        """Send ``c`` to the node at ``address`` (``REDIRECT``), log one line, and close."""
        if c.state == CLOSING:
            return
        self.log.event("redirected", to=address, ip=c.ip, **fields)
        if c.transport is not None and not c.transport.is_closing():
            c.transport.write(routing.redirect(address))
        self._close(c, None)

    def refuse(self, c: Conn, reason: Reason, retry_after: int = 0, **fields: Value) -> None:
        """Turn a connection away with ``CLOSE(reason)`` and log one line."""
        if c.state == CLOSING:
            return
        self.log.refused(reason.label, ip=c.ip, **fields)
        self._close(c, reason, retry_after)

    def hangup(self, c: Conn, reason: Reason | None, others: Reason | None, why: str) -> None:
        """End ``c`` and what depends on it; ``c`` gets ``reason``, its partners ``others``.

        ``None`` for ``reason`` means ``c`` is gone and is told nothing; for
        ``others`` it means the natural word (the peer or the host is gone).
        """
        if c.state == SPLICED:
            self._end_pair(c, reason, others or Reason.PEER_GONE, why)
        elif c.state == CONTROL and c.room is not None:
            if reason is None and self.limits.room_grace > 0 and not self.stopping:
                self._host_away(c, c.room, why)
            else:
                self._end_room(c.room, reason, others or Reason.HOST_GONE, why)
        elif c.state == WAITING and c.room is not None:
            c.room.waiting.pop(c.joiner, None)
            self.log.event("closed", room=c.room.nameplate, joiner=c.joiner, why=why)
            self._close(c, reason)
        elif c.state == MEETING:
            if self.meets.get(c.name) is c:
                del self.meets[c.name]
                if self.cluster is not None:
                    self.cluster.meet_ended(c.name)
            self.log.event("closed", rendezvous=c.name[:NAME_SHOWN].hex(), why=why)
            self._close(c, reason)
        elif c.state in (NEW, PARKED):
            if reason is not None:
                self.log.refused(reason.label, ip=c.ip)
            self._close(c, reason)

    def _end_pair(self, c: Conn, reason: Reason | None, others: Reason, why: str) -> None:
        peer = c.peer
        j, h = (c, peer) if c.is_joiner else (peer, c)
        up = j.count if j is not None else 0
        down = h.count if h is not None else 0
        room = c.room
        secs = time.monotonic() - c.started
        if room is not None:
            self.log.event(
                "closed", room=room.nameplate, joiner=c.joiner, up=up, down=down, secs=secs, why=why
            )
        elif c.name:
            if self.met.get(c.name) in (c, peer):
                del self.met[c.name]
                if self.cluster is not None:
                    self.cluster.meet_ended(c.name)
            shown = c.name[:NAME_SHOWN].hex()
            self.log.event("closed", rendezvous=shown, up=up, down=down, secs=secs, why=why)
        self._close(c, reason)
        if peer is not None:
            self._close(peer, others)

    def _host_away(self, c: Conn, room: Room, why: str) -> None:
        """The control connection ``c`` was lost: keep the room for its grace period."""
        room.control, room.away, c.room = None, time.monotonic(), None
        for j in room.waiting.values():
            self._close(j, Reason.HOST_AWAY, 1)
        room.waiting.clear()
        self._close(c, None)
        self.log.event("away", room=room.nameplate, why=why)

    def _end_room(self, room: Room, reason: Reason | None, others: Reason, why: str) -> None:
        if self.rooms.get(room.nameplate) is room:
            del self.rooms[room.nameplate]
            if self.cluster is not None:
                self.cluster.room_ended(room.nameplate, room.token)
        self.by_token.pop(room.token, None)
        for j in room.waiting.values():
            self._close(j, others)
        room.waiting.clear()
        if room.control is not None:
            room.control.room = None
            self._close(room.control, reason)
        secs = time.monotonic() - room.created
        self.log.event(
            "closed", room=room.nameplate, joins=room.joins, pairs=room.pairs, secs=secs, why=why
        )

    def _close(self, c: Conn, reason: Reason | None, retry_after: int = 0) -> None:
        if c.state == CLOSING:
            return
        c.state = CLOSING
        c.head = None
        c.deadline = time.monotonic() + CLOSE_GRACE
        if c.transport is None:
            return
        with contextlib.suppress(Exception):
            if reason is not None and not c.transport.is_closing():
                c.transport.write(routing.close(reason, retry_after))
            c.transport.close()

    # -- time ----------------------------------------------------------------

    def tick(self) -> None:
        """Enforce every deadline; called a few times a second."""
        now = self.now = time.monotonic()
        lim = self.limits
        for c in list(self.conns):
            state = c.state
            if state == NEW and now >= c.deadline:
                self.hangup(c, Reason.HELLO_TIMEOUT, None, "hello-timeout")
            elif state == WAITING and now >= c.deadline:
                self.hangup(c, Reason.NO_ANSWER, None, "no-answer")
            elif state == MEETING and now >= c.deadline:
                self.hangup(c, Reason.MEET_TIMEOUT, None, "meet-timeout")
            elif state == CONTROL and now - c.last >= lim.idle_timeout:
                self.hangup(c, Reason.IDLE_TIMEOUT, None, "idle")
            elif state == SPLICED and c.is_joiner and c.peer is not None:
                if now - max(c.last, c.peer.last) >= lim.idle_timeout:
                    self.hangup(c, Reason.IDLE_TIMEOUT, Reason.IDLE_TIMEOUT, "idle")
            elif state == CLOSING and now >= c.deadline and c.transport is not None:
                c.transport.abort()
        for room in list(self.rooms.values()):
            if now - room.created >= lim.room_lifetime:
                self._end_room(room, Reason.EXPIRED, Reason.EXPIRED, "expired")
            elif room.control is None and now - room.away >= lim.room_grace:
                self._end_room(room, None, Reason.HOST_GONE, "grace")
        self.miss_budgets.prune(now)
        self.join_budgets.prune(now)
        self.meet_budgets.prune(now)

    def status(self) -> None:
        """Log one line: how many rooms and connections, and (a cluster node) Redis's health."""
        fields: dict[str, Value] = {"rooms": len(self.rooms), "connections": len(self.conns)}
        if self.cluster is not None:
            fields["redis"] = "ok" if self.cluster.healthy else "down"
        self.log.event("status", **fields)

    def shutdown(self) -> None:
        """Stop accepting and tell every end ``CLOSE(shutdown)``."""
        if self.stopping:
            return
        self.stopping = True
        if self.server is not None:
            self.server.close()
        self.log.event("stopping", rooms=len(self.rooms), connections=len(self.conns))
        for c in list(self.conns):
            self.hangup(c, Reason.SHUTDOWN, Reason.SHUTDOWN, "shutdown")
        for room in list(self.rooms.values()):  # those in their grace period
            self._end_room(room, None, Reason.SHUTDOWN, "shutdown")
        self._wake.set()

    async def run(self) -> None:
        """Tick until shut down and every connection is gone (or the grace ran out)."""
        while not self.stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick_interval)
            self.tick()
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while self.conns and time.monotonic() < deadline:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.05)
        for c in list(self.conns):
            if c.transport is not None:
                c.transport.abort()
