"""Start a chat as host or joiner and hand it to a user interface.

This is where the CLI's options meet the network layer: listen (or tunnel,
or use a relay), wait for a confirmed joiner, then run the chosen UI over
a ``SessionSource`` (the UI builds its session from it, with its own event
sink). A joiner gets a ``SessionSpec`` (its ``ChatSession`` talks to the
host). The host always runs a room (``RoomSpec``, ``app.room_session``):
the UI opens at the first confirmed member, and the host goes on accepting
more members (``Host.next_joiner`` in a loop, whichever path they come
by: directly, through the SSH tunnel or the relay) until the room is full.
Status lines go to stderr before the UI starts and to the UI (``Notice``)
while it runs. Each path's modules (LAN discovery and zeroconf, the SSH
tunnel, the relay client, and the host's room) are imported only when that
path is taken, so ``join --at`` and a host without ``--relay`` start without
them. A host prints its code before it loads the session it will run (the
room session, the app's events, the UI: ``host_session``'s ``preload``), and
loads them right after, while the joiner starts.

Both ends are also open to other uses of a session than a chat (the
one-shot ``confide send``/``receive``, ``app.run_transfer``):
``host_session`` reaches the first confirmed joiner exactly as
``host_chat`` does and hands it to a ``Serve`` (``Hosting.link`` makes its
resumable link), and ``join_session`` hands the joiner's link to a
``LinkUser`` instead of a UI.

Identities (``app.identities``): each command first loads the key it proves
and the contacts (``IdentityChoice.load``: a corrupt contacts file or an
unreadable key file ends it there, in one line, before anything connects).
The key goes to every handshake the host or the joiner runs, by whichever
path; the key the peer proved goes to the session with the contacts
(``SessionSpec.peer_key``, ``NewMember.key``, ``Meeting``).

Post-quantum keys (protocol version 4): ``require_pq`` (``--require-pq``)
goes to every handshake in the same way; whether a session is post-quantum
goes to its session (``post_quantum`` of ``SessionSpec``, ``NewMember`` and
``Meeting``, which say ``not post-quantum`` otherwise), and a joiner's
redials pass it on as ``resume_pq``, so the resume of a post-quantum session
mixes in a fresh ML-KEM exchange too. ``confide send`` serves one receiver,
so a refused one ends it (``pq_refusal_ends``: exit 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from confide.app.identities import Identities, IdentityChoice, Meeting, proved_key
from confide.app.room_limits import DEFAULT_MEMBERS, WAITING_MESSAGES
from confide.app.secret import Secret
from confide.errors import ClosedError, NotPostQuantumError, RoomClosedError
from confide.net import DEFAULT_PORT, tcp
from confide.net.host import DEFAULT_HANDSHAKE_TIMEOUT, Established, Host
from confide.net.resumes import ResumeBook
from confide.protocol.codes import Code
from confide.protocol.resume import rendezvous_name
from confide.text import sanitize

if TYPE_CHECKING:
    from confide.app.link import Link
    from confide.app.resumable import Leg, Redial
    from confide.app.room_policy import RoomPolicy
    from confide.app.room_session import NewMember
    from confide.app.session_api import SessionSource
    from confide.app.status import StatusRoute
    from confide.net.discovery import Advertiser

PING_INTERVAL = 5.0
"""Seconds between pings (the full-screen UI shows the round trip)."""
RESUMABLE = 2
"""The protocol version from which a session can resume (``app.resumable``)."""
MEET_WAIT = 15.0
"""Seconds one end waits on a relay for the other to meet it under the rendezvous name."""
RESUME_ATTEMPT_TIMEOUT = 3.0
"""Seconds one redial may take (connect and resume handshake) before the next one:
a path that silently drops packets must not hold the joiner past the link's return."""
Relays = tuple[tuple[str, int], ...]
"""A relay's addresses (``HOST``, ``PORT``): one node, or several of a cluster, tried in order."""
UiRunner = Callable[["SessionSource"], Awaitable[int]]
Arrivals = Callable[[], Awaitable[Established]]
Status = Callable[[str], None]
Serve = Callable[["Hosting", Established, Arrivals], Awaitable[int]]
"""What a host does with its first confirmed joiner (``Arrivals`` gives the next ones)."""
LinkUser = Callable[["Link", Meeting], Awaitable[int]]
"""What a joiner does with its link to the host (and the SAS, its key, ours); the exit code."""


def stderr_status(text: str) -> None:
    """Print one status line on stderr (made inert: it may quote what a joiner sent)."""
    print(sanitize(text), file=sys.stderr, flush=True)


@dataclass
class HostOptions:
    """Everything ``confide host`` was asked for."""

    secret: Secret
    nick: str
    bind: str = ""
    port: int = DEFAULT_PORT
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    status: Status = field(default=stderr_status)
    tunnel: str | None = None  # [USER@]SSHHOST[:SSHPORT]: publish through ssh -R
    tunnel_port: int = 0  # the port on the SSH server (0: it picks)
    discovery: bool = True  # advertise on the LAN (zeroconf)
    relay: Relays | None = None  # a confide relay (its nodes, in order): it gives the nameplate
    max_members: int = DEFAULT_MEMBERS  # the host included
    resume_window: float = 0.0  # seconds a member may be away and come back (0: no resume)
    max_waiting: int = WAITING_MESSAGES  # messages that may wait for one member's ack
    describe_error: Callable[[BaseException], str] = str  # words for an error in a status line
    downloads: Path | None = None  # where files accepted in the chat go (None: platformdirs')
    identity: IdentityChoice = field(default_factory=IdentityChoice)  # the key we prove
    ui_modules: tuple[str, ...] = ()  # what the UI imports when it opens: loaded while we wait
    require_pq: bool = False  # refuse joiners below protocol version 4 (--require-pq)
    pq_refusal_ends: bool = False  # ...and end (exit 4) at the first one refused (send)


@dataclass
class JoinOptions:
    """Everything ``confide join`` was asked for."""

    secret: bytes
    room: str
    nick: str
    address: str
    port: int
    timeout: float = tcp.CONNECT_TIMEOUT
    status: Status = field(default=stderr_status)
    discover_timeout: float = 5.0  # LAN search when address is "" (no --at)
    relay: Relays | None = None  # reach the host through this confide relay (its nodes)
    resume_window: float = 0.0  # seconds to redial the host after a drop (0: no resume)
    max_waiting: int = WAITING_MESSAGES  # messages that may wait for the host's ack
    downloads: Path | None = None  # where files accepted in the chat go (None: platformdirs')
    identity: IdentityChoice = field(default_factory=IdentityChoice)  # the key we prove
    require_pq: bool = False  # refuse a host below protocol version 4 (--require-pq): exit 4


def show_code(status: Status) -> Callable[[Code], None]:
    """The callback that prints a (new) code."""

    def show(code: Code) -> None:
        status(f"code: {code}")

    return show


async def host_chat(opts: HostOptions, run_ui: UiRunner) -> int:
    """Listen, wait for the first confirmed joiner, run the room; return the exit code.

    A password room that took its last wrong guess says so in one line and
    ends with exit 3 (before any UI opened: that needs a confirmed joiner).
    """

    async def room(hosting: Hosting, first: Established, arrivals: Arrivals) -> int:
        return await hosting.run_room(first, arrivals, run_ui)

    return await host_session(opts, room, ("confide.app.room_session", *opts.ui_modules))


async def host_session(opts: HostOptions, serve: Serve, preload: tuple[str, ...] = ()) -> int:
    """Listen (or tunnel, or use a relay), wait for the first confirmed joiner, ``serve`` it.

    Everything but what happens to the joiner is ``host_chat``'s: the code,
    discovery, the tunnel, the resume book. A password room that took its
    last wrong guess says so in one line and ends with exit 3. ``preload``
    names the modules ``serve`` will need: they are imported once the code is
    shown, while the joiner starts, instead of before the code line or after
    the handshake (both on the way to the first message).
    """
    try:
        return await _host(opts, serve, preload)
    except RoomClosedError as exc:
        opts.status(str(exc))
        return exc.exit_code
    except NotPostQuantumError as exc:  # pq_refusal_ends: the refusal's line is out already
        return exc.exit_code


async def _host(opts: HostOptions, serve: Serve, preload: tuple[str, ...]) -> int:
    from confide.app.room_policy import RoomPolicy  # the host's modules: a joiner needs none
    from confide.app.status import StatusRoute

    private, me = opts.identity.load()
    advertiser: Advertiser | None = None
    status = StatusRoute(opts.status)

    def on_code(code: Code) -> None:
        show_code(status)(code)
        if advertiser is not None:
            advertiser.update(code.nameplate)

    policy = RoomPolicy(opts.secret, max_members=opts.max_members, describe=opts.describe_error)
    book = ResumeBook() if opts.resume_window > 0 else None
    host = Host(
        policy,
        status,
        on_code,
        handshake_timeout=opts.handshake_timeout,
        resumes=book,
        identity=private,
        require_pq=opts.require_pq,
        pq_refusal_ends=opts.pq_refusal_ends,
    )
    room = Hosting(opts, policy, status, book, me=me)
    if opts.relay is not None:
        return await _host_via_relay(host, opts.relay, room, serve, preload)
    bind, port = ("127.0.0.1", 0) if opts.tunnel else (opts.bind, opts.port)  # ssh -R reaches it
    server = await tcp.listen(host, bind, port)
    try:
        sock = server.sockets[0].getsockname()
        opts.status(f"listening on {_fmt(sock[0])}:{sock[1]}")
        async with contextlib.AsyncExitStack() as paths:
            tun = None
            if opts.tunnel:
                from confide.net import tunnel

                tun = await paths.enter_async_context(
                    tunnel.opened(opts.tunnel, sock[1], opts.tunnel_port, opts.status)
                )
            elif opts.discovery:
                from confide.net import discovery

                advertiser = discovery.start_advertising(
                    sock[0], sock[1], opts.secret.room, opts.status
                )
                if advertiser is not None:
                    paths.push_async_callback(advertiser.close)
            if opts.secret.code is not None:
                show_code(opts.status)(opts.secret.code)
            opts.status("waiting for a joiner (Ctrl-C to stop)")
            _import_all(preload)
            if tun is None:
                return await serve(room, await tcp.wait_for_joiner(host), host.next_joiner)
            guarded = tun.guard

            def through_tunnel() -> Awaitable[Established]:
                return guarded(host.next_joiner())

            joined = await through_tunnel()
            return await tun.after_chat(await serve(room, joined, through_tunnel))
    finally:
        server.close()
        await host.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)


async def join_chat(opts: JoinOptions, run_ui: UiRunner) -> int:
    """Connect, confirm the handshake, chat; return the exit code.

    With a ``resume_window``, a session of a version that can resume redials
    the host the way it came (the same address, or the relay) after a drop.
    """

    async def chat(link: Link, meeting: Meeting) -> int:
        from confide.app.chat import SessionSpec

        spec = SessionSpec(
            link,
            opts.nick,
            meeting.sas,
            ping_interval=PING_INTERVAL,
            downloads=opts.downloads,
            peer_key=meeting.peer_key,
            identities=meeting.me,
            post_quantum=meeting.post_quantum,
        )
        return await run_ui(spec)

    return await join_session(opts, chat)


async def join_session(opts: JoinOptions, use: LinkUser) -> int:
    """Connect as ``join_chat`` does (``--at``, the LAN, a relay) and hand the link to ``use``."""
    attempt = min(opts.timeout, RESUME_ATTEMPT_TIMEOUT)
    private, me = opts.identity.load()
    if opts.relay is not None:
        from confide.net import relay_client

        relay = opts.relay
        joined = await relay_client.connect(
            relay,
            opts.secret,
            opts.room,
            timeout=opts.timeout,
            status=opts.status,
            identity=private,
            require_pq=opts.require_pq,
        )

        async def via_relay(secret: bytes) -> Established:
            reader, writer = await relay_client.meet(
                relay, rendezvous_name(secret), timeout=MEET_WAIT
            )
            return await tcp.resume_over(
                reader,
                writer,
                secret,
                timeout=attempt,
                require_pq=opts.require_pq,
                resume_pq=joined.done.post_quantum,
            )

        return await _chat(joined, opts, use, via_relay, me)
    if not opts.address:  # no --at: find the host on the LAN by the nameplate
        from confide.net import discovery

        found = await discovery.join_discovered(
            opts.room,
            opts.secret,
            opts.status,
            discover_timeout=opts.discover_timeout,
            timeout=opts.timeout,
            identity=private,
            require_pq=opts.require_pq,
        )
        address, port = _peer_address(found)
        redial = _tcp_redial(address, port, attempt, opts.require_pq, found.done.post_quantum)
        return await _chat(found, opts, use, redial, me)
    opts.status(f"connecting to {opts.address}:{opts.port}")
    joined = await tcp.connect(
        opts.address,
        opts.port,
        opts.secret,
        opts.room,
        timeout=opts.timeout,
        identity=private,
        require_pq=opts.require_pq,
    )
    redial = _tcp_redial(
        opts.address, opts.port, attempt, opts.require_pq, joined.done.post_quantum
    )
    return await _chat(joined, opts, use, redial, me)


Resume = Callable[[bytes], Awaitable[Established]]
"""One attempt at resuming a session, given its resume secret."""


def _tcp_redial(
    address: str, port: int, timeout: float, require_pq: bool, post_quantum: bool
) -> Resume:
    """One resume over TCP; a post-quantum session's resume mixes in ML-KEM too."""

    async def redial(secret: bytes) -> Established:
        return await tcp.resume(
            address,
            port,
            secret,
            timeout=timeout,
            require_pq=require_pq,
            resume_pq=post_quantum,
        )

    return redial


def _peer_address(joined: Established) -> tuple[str, int]:
    """Where a discovered host was reached: its address and port, to dial it again."""
    peer = joined.channel.writer.get_extra_info("peername")
    return str(peer[0]), int(peer[1])


def _as_leg(joined: Established) -> Leg:
    from confide.app.resumable import Leg

    return Leg(joined.channel, joined.channel.conn.resume_key)


def _sequenced(joined: Established) -> bool:
    """Whether both sides speak version 2 or later: acks and sequence numbers, and resume.

    Such a session always runs over a ``ResumableLink``, even with no resume
    window (``--resume-window 0``): the peer acks and expects acks, and a
    window of 0 only means a drop ends the chat at once.
    """
    return joined.done.version >= RESUMABLE


def _leg_redial(resume: Resume) -> Redial:
    async def redial(secret: bytes) -> Leg:
        return _as_leg(await resume(secret))

    return redial


async def _host_via_relay(
    host: Host, relay: Relays, room: Hosting, serve: Serve, preload: tuple[str, ...]
) -> int:
    from confide.net import relay_client

    hosting = relay_client.hosting(
        host,
        relay,
        room.status,
        describe=room.opts.describe_error,
        members=room.opts.max_members,  # the relay sizes the room's join limits by it
        resume_window=room.opts.resume_window,
    )
    if room.book is not None:
        room.redial = _meet_member(host, relay)
    async with hosting as hosted:
        _import_all(preload)

        def through_relay() -> Awaitable[Established]:
            return hosted.wait_for_joiner(host)

        return await serve(room, await through_relay(), through_relay)


def _meet_member(host: Host, relay: Relays) -> Redial:
    """The host's side of a member's resume through a relay: meet it under the rendezvous name.

    The met stream is served like any incoming one: ``Host.handle`` runs the
    resume handshake and the ticket book hands the new connection to the
    member's link (``adopt``), which ends this attempt. An attempt that
    returns without that failed, and is tried again.
    """
    from confide.net import relay_client

    async def redial(secret: bytes) -> Leg:
        reader, writer = await relay_client.meet(relay, rendezvous_name(secret), timeout=MEET_WAIT)
        await host.handle(reader, writer)
        raise ClosedError("the member did not resume through the relay")

    return redial


@dataclass
class Hosting:
    """The host's side once its first member is confirmed: its links, or a room for the UI."""

    opts: HostOptions
    policy: RoomPolicy
    status: StatusRoute
    book: ResumeBook | None = None
    """Where members that come back are found (None: no resume)."""
    redial: Redial | None = None
    """How the host itself looks for a member that dropped (a relay's rendezvous), if it does."""
    me: Identities | None = None
    """Our key and the contacts that recognise the members' keys."""

    async def run_room(self, first: Established, arrivals: Arrivals, run_ui: UiRunner) -> int:
        """Run the UI over the room that ``first`` opens; more come from ``arrivals``."""
        from confide.app.room_session import RoomSpec

        async def next_member() -> NewMember:
            return self._member(await arrivals())

        spec = RoomSpec(
            self.opts.nick,
            self._member(first),
            self.policy,
            next_member,
            max_members=self.opts.max_members,
            status=self.status,
            ping_interval=PING_INTERVAL,
            downloads=self.opts.downloads,
            identities=self.me,
        )
        return await run_ui(spec)

    def _member(self, joined: Established) -> NewMember:
        from confide.app.room_session import NewMember

        done = joined.done
        return NewMember(self.link(joined), done.sas, proved_key(done), done.post_quantum)

    def link(self, joined: Established) -> Link:
        """A confirmed member's link: resumable (and in the book) if the session can resume."""
        from confide.app.resumable import Leg, OutboxLimits, ResumableLink

        if not _sequenced(joined):
            return joined.channel
        link = ResumableLink(
            _as_leg(joined),
            redial=self.redial,
            window=self.opts.resume_window,
            limits=OutboxLimits(messages=self.opts.max_waiting),
        )
        book = self.book
        if book is not None:
            entry = book.register(
                link.resume_key, lambda channel, key: link.adopt(Leg(channel, key))
            )
            link.on_end = lambda: book.forget(entry)
        return link


async def _chat(
    joined: Established, opts: JoinOptions, use: LinkUser, resume: Resume, me: Identities
) -> int:
    from confide.app.resumable import OutboxLimits, ResumableLink

    link: Link = joined.channel
    if _sequenced(joined):
        link = ResumableLink(
            _as_leg(joined),
            redial=_leg_redial(resume),
            window=opts.resume_window,
            limits=OutboxLimits(messages=opts.max_waiting),
        )
    done = joined.done
    return await use(link, Meeting(done.sas, proved_key(done), me, done.post_quantum))


def _import_all(modules: tuple[str, ...]) -> None:
    """Import ``modules`` now (a host does it once its code is out, while it waits)."""
    for name in modules:
        importlib.import_module(name)


def _fmt(host: str) -> str:
    return f"[{host}]" if ":" in host else host
