"""The host's session: the asyncio driver of a ``RoomHub`` over one ``Link`` per member.

How this works. The rules of a room live in ``app.room.RoomHub`` (no I/O).
``RoomSession`` runs them for the host, as ``app.chat.ChatSession`` runs a
``ChatCore`` for a joiner, and offers the same ``app.session_api.Session``
commands to the UI. Each member link gets an int id and one reader task:
every message it receives goes to ``hub.receive`` and then the hub's output
is flushed. A flush sends each ``Delivery`` to every addressed member still
connected (``Link.send`` never waits: a member that stops reading only grows
its own queue), reports each touched link's queued bytes to ``hub.backlog``
(which drops a member past ``MAX_BACKLOG_BYTES``), hands the events on (to
the UI sink and the observers; ``MessageOut``, ``PrivateOut`` and
``NickSet`` to observers only) and ends the links the hub hangs up: at
once for a slow member, else after draining and a half-close, waiting a
little for the member to close first so nothing it still had to read is
lost to a reset.

New members come from ``RoomSpec.arrivals`` (the host's accept loop, see
``app.run``), each already confirmed and counted by the room policy; a
member whose link ends for any reason gives its place back
(``member_left``). A link that ends without a goodbye is removed from the
hub with ``connection lost``.

A room of two looks like a 1:1 chat: the first member to join is announced
as ``Connected`` (not ``MemberJoined``), and when the last member leaves
and the room is empty the session ends as a 1:1 host's does: a goodbye is
``PeerLeft`` and exit 0; a link error is ``Disconnected`` and its exit
code. While at least one member remains, members come and go. ``leave``
closes the room: every member gets ``Closed``, the links are drained
(within ``LEAVE_TIMEOUT`` in all), half-closed and closed.

With a ``ping_interval`` the host pings the member a room of two shows
(``peer_nick``) and shows the round trip as ``Latency``, as a 1:1 host did.

Files. The host's own transfers run in an ``app.session_files.SessionFiles``
whose chunks wait for the member's link (``app.transfer.link_flow``); file messages
from members are routed by ``app.room_files.FileRoutes`` (to the host's
engine, to everyone, or forwarded to one member like a ``/msg``), sent at
once and never through the hub. When a member leaves, the host's transfers
with it are cancelled. When a member (or the host) is renamed, the host's
transfers with it and the routes are re-keyed to the new nick as the hub
reports it, before any later message is read.

Identities (``app.room_keys.HostKeys``): each member's key comes with it
(``NewMember.key``) and goes to the hub, which passes it on to the other
members (``MemberKey``). Just before a member is announced (``Connected``
or ``MemberJoined``) the contacts recognise its key under its nick, once,
as a ``PeerIdentity``; ``/verify ok`` stores the key as a verified contact
and ``/verify forget`` removes it. ``who`` shows each key's fingerprint.
A member whose session with us is not post-quantum (an older confide,
``NewMember.post_quantum``) is announced after a ``NotPostQuantum``, and
``who`` says so (``MemberView.post_quantum``).

Status lines from the accept loop (failed joins, new codes, refusals) go
to the UI as ``Notice`` events while the session runs: ``StatusRoute``
(``app.status``) sends them to the session's ``notice`` then, and to stderr
before and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from confide.app.core import OWN_EVENTS
from confide.app.events import (
    AppEvent,
    Connected,
    Disconnected,
    Latency,
    MemberJoined,
    MemberLeft,
    MemberRenamed,
    NickSet,
    Notice,
    NotPostQuantum,
    PeerAway,
    PeerBack,
    PeerLeft,
    PrivateOut,
    TransferOffered,
    TransferRef,
)
from confide.app.identities import Identities
from confide.app.link import Link, LinkDown, LinkUp
from confide.app.room import RoomHub
from confide.app.room_files import FileRoutes
from confide.app.room_keys import HostKeys
from confide.app.room_types import DEFAULT_MEMBERS, HOST_ID, MAX_BACKLOG_BYTES, HubOutput
from confide.app.session_api import EventSink, MemberView
from confide.app.session_files import EVERYONE, FILE_MESSAGES, FileCommands, SessionFiles
from confide.app.status import StatusRoute
from confide.app.transfer import link_flow
from confide.errors import (
    EXIT_OK,
    ClosedError,
    ConfideError,
    OutboxFullError,
    PeerGoneError,
    RoomClosedError,
    UsageError,
)
from confide.protocol import messages as m

LEAVE_TIMEOUT = 2.0
"""Seconds the host waits, in all, for members to take the last messages when it leaves."""
DRAIN_PATIENCE = 0.25
"""Seconds ``drain`` waits for one member's queue; one slower is not waited for again
until its queue is empty (the hub drops it if it stays behind)."""
HOST_EVENTS_FOR_OBSERVERS = (*OWN_EVENTS, PrivateOut)
"""What the host did itself: for observers (a transcript) only; the UI echoes it."""


@dataclass(frozen=True, slots=True)
class NewMember:
    """A confirmed joiner: its link (its nick is the first message) and its SAS with us."""

    link: Link
    sas: tuple[str, ...]
    key: bytes | None = None
    """The identity key it proved (``b""``: an older confide proves none; None: not known)."""
    post_quantum: bool = True
    """Whether our session with it rests on ML-KEM too (False: below version 4)."""


class MemberRules(Protocol):
    """What the session asks of the room policy (``app.room_policy.RoomPolicy``)."""

    def member_left(self) -> None:
        """A member left: its place is free for the next joiner."""

    def code_text(self) -> str | None:
        """The code that invites more people now (None for a password room)."""


@dataclass(frozen=True, slots=True)
class RoomSpec:
    """What a UI needs to build the host's ``RoomSession``: all but its own event sink."""

    nick: str
    first: NewMember
    """The member whose arrival opened the UI."""
    rules: MemberRules
    arrivals: Callable[[], Awaitable[NewMember]] | None = None
    """The next confirmed joiner; raises ``ConfideError`` when no more can come."""
    max_members: int = DEFAULT_MEMBERS
    status: StatusRoute | None = None
    observers: tuple[EventSink, ...] = ()
    ping_interval: float | None = None
    """Seconds between pings of the first member (its round trip is shown), or None."""
    downloads: Path | None = None
    """Where accepted files go (None: the platform's downloads folder)."""
    identities: Identities | None = None
    """Our key and the contacts that recognise members' keys (None: no identities)."""

    def observed_by(self, observer: EventSink) -> RoomSpec:
        """The same spec with one more observer."""
        return replace(self, observers=(*self.observers, observer))

    def session(self, on_event: EventSink, *, typing_enabled: bool = False) -> RoomSession:
        """The host's session, handing its events to ``on_event`` and the observers."""
        return RoomSession(
            self.nick,
            on_event,
            first=self.first,
            rules=self.rules,
            arrivals=self.arrivals,
            max_members=self.max_members,
            status=self.status,
            observers=self.observers,
            typing_enabled=typing_enabled,
            ping_interval=self.ping_interval,
            downloads=self.downloads,
            identities=self.identities,
        )


class RoomSession(FileCommands):
    """The host of a room: the hub, its members' links, and the host's commands."""

    def __init__(
        self,
        nick: str,
        on_event: EventSink,
        *,
        first: NewMember,
        rules: MemberRules,
        arrivals: Callable[[], Awaitable[NewMember]] | None = None,
        max_members: int = DEFAULT_MEMBERS,
        status: StatusRoute | None = None,
        observers: Iterable[EventSink] = (),
        typing_enabled: bool = False,
        ping_interval: float | None = None,
        now: Callable[[], datetime] = datetime.now,
        clock: Callable[[], float] = time.monotonic,
        downloads: Path | None = None,
        identities: Identities | None = None,
    ) -> None:
        """Prepare the room; nothing happens until ``run``.

        ``clock`` (monotonic seconds) times pings, ``now`` stamps lines;
        accepted files go to ``downloads`` (None: the platform's downloads folder);
        ``identities`` recognise the members' keys (None: no identities).
        """
        self.hub = RoomHub(nick, max_members=max_members, now=now, typing_enabled=typing_enabled)
        self._on_event = on_event
        self._observers = tuple(observers)
        self._first = first
        self._rules = rules
        self._arrivals = arrivals
        self._status = status
        self._links: dict[int, Link] = {}
        self._readers: dict[int, asyncio.Task[None]] = {}
        self._closing: dict[asyncio.Task[None], Link] = {}
        self._lagging: set[int] = set()
        self._verified: dict[int, bool] = {}
        self._classical: set[int] = set()  # members whose session is not post-quantum
        self.keys = HostKeys(self.hub, identities)
        self._bye = "bye"
        self._next_id = HOST_ID
        self._connected = False
        self._peer = "peer"
        self._leaving = False
        self._code = EXIT_OK
        self._ended = asyncio.Event()
        self._ping_interval = ping_interval
        self._clock = clock
        self._pings: dict[tuple[int, int], float] = {}  # (member id, n) -> sent at
        self._pings_sent = 0
        self.routes = FileRoutes(self.hub, lambda: tuple(self._links), self._send_to)
        self.files = SessionFiles(
            self.routes.out,
            self._emit,
            flow=self._flow,
            shown=self._shown_ref,
            downloads=downloads,
        )
        self.routes.files = self.files

    # -- state, as the UIs read it ------------------------------------------

    @property
    def nick(self) -> str:
        """The host's nick."""
        return self.hub.nick

    @property
    def is_host(self) -> bool:
        """Always true: this is the hub."""
        return True

    @property
    def peer_nick(self) -> str:
        """The first member still here (a room of two reads as a 1:1 chat)."""
        nicks = self.hub.nicks()
        return nicks[1] if len(nicks) > 1 else self._peer

    @property
    def sas(self) -> tuple[str, ...]:
        """``()``: the host has one SAS per member (see ``who``)."""
        return ()

    @property
    def typing_enabled(self) -> bool:
        """Whether the host takes part in typing indicators (set before ``run``)."""
        return self.hub.typing_enabled

    @typing_enabled.setter
    def typing_enabled(self, on: bool) -> None:
        self.hub.typing_enabled = on

    @property
    def members(self) -> int:
        """Members connected now, the host not counted."""
        return len(self._links)

    def who(self) -> list[MemberView]:
        """Everyone in join order, the host first, with the host's SAS with each."""
        return [
            MemberView(
                info.nick,
                info.is_host,
                info.is_host,
                info.sas,
                None if info.is_host else self._verified.get(info.member_id),
                *self.keys.view(info.member_id),
                None if info.is_host else info.member_id not in self._classical,
            )
            for info in self.hub.who()
        ]

    def whoami(self) -> str:
        """Our identity's fingerprint (``""``: no identity in this session)."""
        return self.keys.whoami()

    def code(self) -> str | None:
        """The code that invites more people (None for a password room)."""
        return self._rules.code_text()

    def mark_verified(self, nick: str | None, ok: bool) -> None:
        """Remember that the host compared its SAS with ``nick`` (None: the only member)."""
        members = [info for info in self.hub.who() if not info.is_host]
        if nick is None:
            if len(members) != 1:
                raise UsageError("name the member: /verify NICK ok")
            self._mark(members[0].member_id, members[0].nick, ok)
            return
        for info in members:
            if m.same_nick(info.nick, nick):
                self._mark(info.member_id, info.nick, ok)
                return
        raise UsageError(f"no one called {m.clean_nick(nick)!r} here")

    def _mark(self, mid: int, nick: str, ok: bool) -> None:
        """``/verify ok`` or ``forget`` for member ``mid``: this chat, and its key's contact."""
        self._verified[mid] = ok
        self.keys.mark(mid, nick, ok)

    def _sender_verified(self, nick: str) -> bool | None:
        """Whether member ``nick`` is verified: in this chat, or as a contact (None: unknown)."""
        mid = self.hub.member_id(nick)
        if mid is None or mid == HOST_ID:
            return None
        return True if self._verified.get(mid) else self.keys.verified(mid)

    # -- the host's commands -------------------------------------------------

    def say(self, text: str) -> int:
        """Send a chat line to every member; return its id."""
        return self._command(self.hub.say(text))

    def act(self, text: str) -> int:
        """Send a ``/me`` action; return its id."""
        return self._command(self.hub.act(text))

    def private(self, nick: str, text: str) -> int:
        """Send ``text`` to the member ``nick`` only; ``UsageError`` if no one is called that."""
        return self._command(self.hub.private(nick, text))

    def rename(self, nick: str) -> str:
        """Change the host's nick; ``UsageError`` if refused or taken."""
        new = self.hub.rename(nick)
        self._flush()
        return new

    def typing(self, on: bool) -> None:
        """Tell the members who opted in that the host started or stopped typing."""
        self.hub.typing(on)
        self._flush()

    def kick(self, nick: str) -> None:
        """Remove member ``nick`` from the room; ``UsageError`` if unknown."""
        self.hub.kick(nick)
        self._flush()

    def send_file(self, path: str, nick: str | None = None) -> list[TransferRef]:
        """``/send [NICK] PATH``: offer a file or folder to ``nick`` (None: every member)."""
        if nick is None:
            members = [info.nick for info in self.hub.who() if not info.is_host]
            peer = members[0] if len(members) == 1 else ""
        else:
            target = self.hub.member_id(nick)
            if target is None:
                raise UsageError(f"no one called {m.clean_nick(nick)!r} here")
            if target == HOST_ID:
                raise UsageError("that is you")
            peer = self.hub.nick_of(target) or nick
        return self.files.offer(path, peer)

    def notice(self, text: str) -> None:
        """Show a status line (a failed join, a new code) in the UI."""
        self._emit(Notice(text))

    def _command(self, mid: int) -> int:
        self._flush()
        return mid

    # -- running -------------------------------------------------------------

    async def run(self) -> int:
        """Run the room until it ends; return the exit code it ended with."""
        acceptor = pinger = None
        if self._status is not None:
            self._status.target = self.notice
        try:
            self.add_member(self._first)
            self.files.start()
            if self._arrivals is not None:
                acceptor = asyncio.create_task(self._accept(self._arrivals))
            if self._ping_interval:
                pinger = asyncio.create_task(self._ping_loop(self._ping_interval))
            await self._ended.wait()
            await self._settle(LEAVE_TIMEOUT)
            return self._code
        finally:
            if self._status is not None:
                self._status.target = None
            for task in (acceptor, pinger):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
            await self.files.stop("the room closed")
            await self.abort()

    def add_member(self, member: NewMember) -> None:
        """Take a confirmed joiner into the room (its first message is its nick)."""
        if self.hub.closed or self._ended.is_set():
            self._rules.member_left()
            self._close_later(member.link, flush=False)
            return
        self._next_id += 1
        mid = self._next_id
        try:
            self.hub.add(mid, member.sas, self.keys.for_hub(member.key))
        except UsageError:  # the policy and the hub disagree on a place: refuse it
            self._rules.member_left()
            self._close_later(member.link, flush=False)
            return
        if not member.post_quantum:
            self._classical.add(mid)
        self._links[mid] = member.link
        self._readers[mid] = asyncio.create_task(self._read(mid, member.link))

    async def _accept(self, arrivals: Callable[[], Awaitable[NewMember]]) -> None:
        """Take members until no more can come; the room goes on with those it has."""
        try:
            while not self.hub.closed:
                self.add_member(await arrivals())
        except RoomClosedError as exc:  # a password room took its last wrong guess
            self.notice(str(exc))
        except ConfideError as exc:  # the path closed (ssh exited, the relay gave up)
            self._path_closed(exc)

    def _path_closed(self, error: ConfideError) -> None:
        """The way members come (the SSH tunnel, the relay) closed: none can come back by it.

        Their links went with it; a member waiting to resume would wait in
        vain, so the room ends as if every link failed with ``error``.
        """
        for mid, link in list(self._links.items()):
            self._links.pop(mid)
            self._rules.member_left()
            self._close_later(link, flush=False)
            self.hub.remove(mid, "connection lost")
        self._flush(error=error)

    async def _read(self, mid: int, link: Link) -> None:
        error: ConfideError | None = None
        try:
            while mid in self._links:
                message = await link.receive()
                if isinstance(message, LinkDown | LinkUp):
                    self._link_state(mid, message)
                    continue
                if isinstance(message, FILE_MESSAGES):
                    self.routes.from_member(mid, message)
                    self._flush()
                    continue
                if isinstance(message, m.Bye):
                    self._bye = message.reason
                elif isinstance(message, m.Pong):
                    self._ponged(mid, message.n)
                self.hub.receive(mid, message)
                self._flush()
        except ConfideError as exc:
            error = exc
        finally:
            self._readers.pop(mid, None)
        if mid in self._links:  # ended without the hub hanging up: the link failed
            self._links.pop(mid)
            self._rules.member_left()
            self._close_later(link, flush=False)
            gone = isinstance(error, PeerGoneError)
            self.hub.remove(mid, str(error) if gone else "connection lost")
            self._flush(error=error)

    def _backlog(self, mid: int, link: Link) -> None:
        """Tell the hub what waits for ``mid`` (forwarded file chunks get an allowance)."""
        queued = link.queued_bytes()
        if not queued:
            self._lagging.discard(mid)
        self.hub.backlog(mid, self.routes.backlog(mid, queued))

    def _send_to(self, mid: int, message: m.Message) -> None:
        """Send one message to member ``mid`` now (a file message: not through the hub)."""
        link = self._links.get(mid)
        if link is None:
            return
        try:
            link.send(message)
        except ClosedError:  # its reader reports the end
            return
        except OutboxFullError:  # away too long with too much for it: drop it
            self.hub.backlog(mid, MAX_BACKLOG_BYTES + 1)
            return
        self._backlog(mid, link)

    async def _flow(self, peer: str) -> None:
        """Wait until the link of member ``peer`` can take one more chunk."""
        target = self.hub.member_id(peer) if peer else None
        link = self._links.get(target) if target is not None else None
        if link is not None:
            await link_flow(lambda _peer: link)(peer)

    def _shown_ref(self, ref: TransferRef) -> TransferRef:
        """Name the other end: ``""`` is every member (the only one in a room of two)."""
        if ref.peer:
            return ref
        return replace(ref, peer=EVERYONE if len(self._links) > 1 else self.peer_nick)

    def _link_state(self, mid: int, state: LinkDown | LinkUp) -> None:
        """A member's resumable link lost its connection, or is back: tell the host's UI."""
        nick = self.hub.nick_of(mid)
        if nick is None:
            return
        if isinstance(state, LinkDown):
            self._emit(PeerAway(nick, state.reason, state.error))
        else:
            self._emit(PeerBack(nick))

    async def _ping_loop(self, interval: float) -> None:
        """Ping the member a room of two shows, every ``interval`` seconds."""
        while True:
            await asyncio.sleep(interval)
            peer = next(iter(self._links.items()), None)
            if peer is None:
                continue
            self._pings_sent += 1
            self._pings = {k: v for k, v in self._pings.items() if k[0] in self._links}
            self._pings[(peer[0], self._pings_sent)] = self._clock()
            with contextlib.suppress(ClosedError):
                peer[1].send(m.Ping(self._pings_sent))

    def _ponged(self, mid: int, n: int) -> None:
        sent = self._pings.pop((mid, n), None)
        if sent is not None:
            self._emit(Latency((self._clock() - sent) * 1000))

    def _flush(self, *, error: ConfideError | None = None) -> None:
        """Move the hub's output to the links, the UI and the observers."""
        while True:
            out = self.hub.take()
            if not (out.deliveries or out.events or out.hangups):
                return
            self._deliver(out)
            for event in self._shown(out.events, error):
                self._emit(event)
            for hangup in out.hangups:
                link = self._links.pop(hangup.member_id, None)
                if link is not None:
                    self._rules.member_left()
                    self._close_later(link, flush=hangup.flush, mid=hangup.member_id)
            for event in out.events:  # after the hangups: the member's link is gone
                if isinstance(event, MemberLeft):
                    self.files.forget_peer(event.nick, f"{event.nick} left")
                    self.routes.member_left(event.nick)
                elif isinstance(event, MemberRenamed | NickSet):  # before any later message
                    if isinstance(event, MemberRenamed):  # the host's engine keys members
                        self.files.rename_peer(event.old, event.new)
                    self.routes.renamed(event.old, event.new)
            if not self._links and not self._ended.is_set():
                self._ended.set()

    def _deliver(self, out: HubOutput) -> None:
        touched: set[int] = set()
        for delivery in out.deliveries:
            for mid in delivery.to:
                link = self._links.get(mid)
                if link is None:
                    continue
                try:
                    link.send(delivery.message)
                except ClosedError:  # its reader reports the end
                    pass
                except OutboxFullError:  # away too long with too much for it: drop it
                    self.hub.backlog(mid, MAX_BACKLOG_BYTES + 1)
                touched.add(mid)
        for mid in touched:
            link = self._links.get(mid)
            if link is not None:
                self._backlog(mid, link)

    def _shown(self, events: list[AppEvent], error: ConfideError | None) -> list[AppEvent]:
        """The hub's events as the host's UI sees them: a room of two reads as 1:1."""
        shown: list[AppEvent] = []
        for event in events:
            if isinstance(event, MemberJoined):
                shown += self.keys.recognised(event.nick)
                if self.hub.member_id(event.nick) in self._classical:
                    shown.append(NotPostQuantum(event.nick))
            match event:
                case MemberJoined(nick=nick, sas=sas) if not self._connected:
                    self._connected = True
                    self._peer = nick
                    shown.append(Connected(nick, sas))
                case MemberLeft(nick=nick, reason=reason) if self._empties():
                    self._peer = nick
                    if reason == "left":
                        shown.append(PeerLeft(nick, self._bye))
                    elif isinstance(error, PeerGoneError):  # the window ended
                        self._code = error.exit_code
                        shown.append(Disconnected(f"{nick} {error}", error.exit_code, error))
                    elif reason == "connection lost" and error is not None:
                        self._code = error.exit_code
                        shown.append(Disconnected(_plain(error), error.exit_code, error))
                    else:
                        shown.append(event)
                case _:
                    shown.append(event)
        return shown

    def _empties(self) -> bool:
        """Whether the room is now only the host (a member leaving was the last)."""
        return len(self.hub.nicks()) == 1 and not self._leaving

    def _emit(self, event: AppEvent) -> None:
        if isinstance(event, TransferOffered) and event.ref.incoming:
            event = replace(event, verified=self._sender_verified(event.ref.peer))
        if not isinstance(event, HOST_EVENTS_FOR_OBSERVERS):
            self._on_event(event)
        for observer in self._observers:
            observer(event)

    def _close_later(self, link: Link, *, flush: bool, mid: int | None = None) -> None:
        task = asyncio.create_task(self._close(link, flush=flush, mid=mid))
        self._closing[task] = link
        task.add_done_callback(lambda done: self._closing.pop(done, None))

    async def _close(self, link: Link, *, flush: bool, mid: int | None) -> None:
        """End one link: drain, half-close and let the member close first; or at once."""
        if not flush:
            await link.abort()
            return
        with contextlib.suppress(ConfideError, TimeoutError):
            await asyncio.wait_for(link.drain(), LEAVE_TIMEOUT)
            link.shutdown_write()
            reader = self._readers.get(mid) if mid is not None else None
            if reader is not None:
                await asyncio.wait_for(asyncio.shield(reader), LEAVE_TIMEOUT)
        await link.close()

    async def _settle(self, timeout: float) -> None:
        """Let the links being closed finish (at most ``timeout`` seconds)."""
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=timeout)

    async def drain(self) -> None:
        """Wait for what we queued to reach the kernel; a lagging member is not waited for."""
        waits = {
            mid: asyncio.ensure_future(link.drain())
            for mid, link in self._links.items()
            if mid not in self._lagging
        }
        if not waits:
            return
        _, pending = await asyncio.wait(waits.values(), timeout=DRAIN_PATIENCE)
        for mid, task in waits.items():
            if task in pending:
                self._lagging.add(mid)
                task.cancel()
            elif not task.cancelled():
                task.exception()  # a closed link: its reader reports it

    async def abort(self) -> None:
        """Close every link at once."""
        for reader in list(self._readers.values()):
            reader.cancel()
        links = list(self._links.values())
        self._links.clear()
        for link in links:
            await link.abort()
        for task, link in list(self._closing.items()):
            task.cancel()
            await link.abort()

    async def leave(self, reason: str = "bye") -> None:
        """Close the room: every member is told, drained (bounded) and closed."""
        if self._leaving:
            return
        self._leaving = True
        self.hub.close()
        self._flush()
        await self._settle(LEAVE_TIMEOUT)
        self._code = EXIT_OK
        self._ended.set()


def _plain(exc: ConfideError) -> str:
    if isinstance(exc, ClosedError):
        return str(exc)
    return f"connection ended: {exc}"
