"""A joiner's session: the asyncio driver of a ``ChatCore`` over a ``Link`` to the host.

The rules of the chat live in ``app.core.ChatCore`` (no I/O). ``ChatSession``
runs them: ``run`` greets (our nick), then feeds every message the link
receives to the core until the peer says goodbye, the link drops, or we
``leave``. After each message or command it writes the core's outbox to the
link and hands the core's events on: to ``on_event`` (the UI) and to every
observer, except ``MessageOut``, ``PrivateOut`` and ``NickSet`` (what we
did ourselves), which only observers (a transcript, see ``app.transcript``) see. A ping timer
(``ping_interval``) asks the core for pings. Both the sink and the observers
are given when the session is built: ``app.run`` hands a UI a ``SessionSpec``
(the link, nick, SAS, observers) and the UI builds its session from it with
its own sink (``SessionSpec.session``), so nothing is patched in later.

What a user does comes in through ``say``, ``act``, ``private``,
``rename``, ``typing`` and ``leave`` (``app.session_api.Session``: ``kick``
and ``code`` are the host's, and answer a joiner with a ``UsageError``).
The link may be a ``net.channel.Channel`` or one end of
``app.link.memory_link_pair`` (tests).

Identities (``app.identities``): the key the host proved in the handshake
(``peer_key``; ``b""`` for an older confide) is recognised by the contacts
once, when the host's nick is known, and handed on as a ``PeerIdentity``
just before ``Connected``. In a room the host passes on each other
member's key (``MemberKey``): each is recognised too (``via_host``), and
``who`` shows every key's fingerprint and whether we verified it before.
A host below protocol version 4 (no ML-KEM step: ``post_quantum`` False)
is announced after a ``NotPostQuantum``, and ``who`` says so.
``/verify ok`` stores the host's key as a verified contact, ``/verify
forget`` removes it. A resumed link changes none of this.

Files (``/send``, ``/accept``, ``/decline``, ``/cancel``) go through an
``app.session_files.SessionFiles``: file messages from the host skip the
core and go to the transfer engine, whose messages go to the host as they
are (``peer`` names the recipient, ``""`` the host or everyone) and whose
chunks wait for the link (``app.transfer.link_flow``). Its pump runs while ``run``
does; when the chat ends, what is still running fails and keeps its ``.part``.
The engine keys each transfer by the other end's nick: when the host or a
member is renamed, its transfers are re-keyed at once (``_rekey_files``),
so they go on under the new nick.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from confide.app.core import OWN_EVENTS, ChatCore
from confide.app.events import (
    AppEvent,
    Connected,
    Disconnected,
    MemberLeft,
    MemberRenamed,
    NotPostQuantum,
    PeerIdentity,
    PeerNick,
    TransferOffered,
    TransferRef,
)
from confide.app.identities import Identities
from confide.app.link import Link
from confide.app.session_api import MemberView
from confide.app.session_files import EVERYONE, FILE_MESSAGES, FileCommands, SessionFiles
from confide.app.transfer import link_flow
from confide.errors import (
    EXIT_OK,
    FOR_A_FILE,
    ClosedError,
    ConfideError,
    OutboxFullError,
    PeerGoneError,
    UsageError,
    WrongCommandError,
)
from confide.protocol import messages as m

EventSink = Callable[[AppEvent], None]
LEAVE_TIMEOUT = 2.0
"""Seconds ``leave`` waits for the goodbye to reach the kernel before closing anyway."""


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """What a UI needs to build its ``ChatSession``: all but its own event sink."""

    link: Link
    nick: str
    sas: tuple[str, ...]
    ping_interval: float | None = None
    observers: tuple[EventSink, ...] = ()
    """Told of every event and of what we send (e.g. a transcript)."""
    downloads: Path | None = None
    """Where accepted files go (None: the platform's downloads folder)."""
    peer_key: bytes | None = None
    """The identity key the host proved (``b""``: none, an older confide; None: not known)."""
    identities: Identities | None = None
    """Our key and the contacts that recognise the peer's (None: no identities)."""
    post_quantum: bool = True
    """Whether the session's keys rest on ML-KEM too (False: a host below version 4)."""

    def observed_by(self, observer: EventSink) -> SessionSpec:
        """The same spec with one more observer."""
        return replace(self, observers=(*self.observers, observer))

    def session(self, on_event: EventSink, *, typing_enabled: bool = False) -> ChatSession:
        """The session, handing its events to ``on_event`` (the UI) and the observers."""
        return ChatSession(
            self.link,
            self.nick,
            self.sas,
            on_event,
            observers=self.observers,
            typing_enabled=typing_enabled,
            ping_interval=self.ping_interval,
            downloads=self.downloads,
            peer_key=self.peer_key,
            identities=self.identities,
            post_quantum=self.post_quantum,
        )


JOINED_A_SENDER = "ran confide join: files need confide receive"
"""The ``Bye`` a chat joiner says to a ``confide send`` (its words after the nick)."""


class ChatSession(FileCommands):
    """Both directions of one chat, turned into app events and app commands."""

    def __init__(
        self,
        link: Link,
        nick: str,
        sas: tuple[str, ...],
        on_event: EventSink,
        *,
        observers: Iterable[EventSink] = (),
        typing_enabled: bool = False,
        ping_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = datetime.now,
        downloads: Path | None = None,
        peer_key: bytes | None = None,
        identities: Identities | None = None,
        post_quantum: bool = True,
    ) -> None:
        """Prepare a session; nothing is sent until ``run``.

        ``observers`` are also told of every event and of what we send (e.g. a
        transcript); ``clock`` (monotonic seconds) times pings, ``now`` stamps lines;
        accepted files go to ``downloads`` (None: the platform's downloads folder).
        ``peer_key`` is the key the host proved and ``identities`` recognise it
        (either None: no identities). ``post_quantum`` False: the host is older
        (below version 4), said once with a ``NotPostQuantum`` before ``Connected``.
        """
        self.link = link
        self._post_quantum = post_quantum
        self.core = ChatCore(nick, sas, clock=clock, now=now, typing_enabled=typing_enabled)
        self._on_event = on_event
        self._observers = tuple(observers)
        self._ping_interval = ping_interval
        self._leaving = False
        self._reading = False
        self._ended = asyncio.Event()
        self._verified: bool | None = None
        self._me = identities if peer_key is not None else None
        self._peer_key = peer_key or b""
        self._keys: dict[str, bytes] = {}  # other members' keys, by nick, from the host
        self.files = SessionFiles(
            self.link.send,
            self._emit,
            flow=link_flow(lambda _peer: self.link),  # every chunk goes to the host
            shown=self._shown_ref,
            downloads=downloads,
        )

    # -- the core's state, as the UIs read it ----------------------------

    @property
    def is_host(self) -> bool:
        """Always false: a joiner's session talks to the host."""
        return False

    def who(self) -> list[MemberView]:
        """Everyone in the room as we know them: only the host is checked by our SAS."""
        room = self.core.room
        names = room.members if room is not None else [self.peer_nick, self.nick]
        host = self.peer_nick
        return [
            MemberView(
                nick,
                nick == host,
                nick == self.nick,
                self.sas if nick == host else (),
                self._verified if nick == host else None,
                *self._identity_view(nick),
                self._post_quantum if nick == host else None,
            )
            for nick in names
        ]

    def _identity_view(self, nick: str) -> tuple[str, bool | None]:
        """The fingerprint of ``nick``'s key, and whether we verified it (ours for us)."""
        if self._me is None:
            return "", None
        if nick == self.nick:
            return self._me.whoami(), None
        return self._me.view(self._key_of(nick))

    def _key_of(self, nick: str) -> bytes:
        return self._peer_key if nick == self.peer_nick else self._keys.get(nick, b"")

    def whoami(self) -> str:
        """Our identity's fingerprint (``""``: no identity in this session)."""
        return self._me.whoami() if self._me is not None else ""

    def mark_verified(self, nick: str | None, ok: bool) -> None:
        """Remember we compared our SAS with the host (the only one we share a SAS with).

        The host's key, if it proved one, becomes a verified contact (``ok``)
        or is forgotten.
        """
        if nick is not None and nick != self.peer_nick:
            raise UsageError(f"you share a SAS with the host ({self.peer_nick}) only")
        self._verified = ok
        if self._me is not None:
            if ok:
                self._me.verify(self._peer_key, self.peer_nick)
            else:
                self._me.forget(self._peer_key)

    def _sender_verified(self, nick: str) -> bool | None:
        """Whether the sender ``nick`` of an offer is verified (None: no identities)."""
        if nick == self.peer_nick and self._verified:
            return True
        if self._me is None:
            return None
        return self._me.is_verified(self._key_of(nick))

    def code(self) -> str | None:
        """Only the host has the code: always ``UsageError``."""
        raise UsageError("only the host has the code")

    def kick(self, nick: str) -> None:
        """Only the host can kick: always ``UsageError``."""
        raise UsageError("only the host can /kick")

    @property
    def nick(self) -> str:
        """Our nick."""
        return self.core.nick

    @property
    def peer_nick(self) -> str:
        """The peer's nick as shown: ``NICK~2`` while it looks like ours."""
        return self.core.peer_nick

    @property
    def sas(self) -> tuple[str, ...]:
        """The short authentication string of this chat."""
        return self.core.sas

    @property
    def typing_enabled(self) -> bool:
        """Whether we take part in typing indicators (set before ``run``)."""
        return self.core.typing_enabled

    @typing_enabled.setter
    def typing_enabled(self, on: bool) -> None:
        self.core.typing_enabled = on

    @property
    def peer_typing_enabled(self) -> bool:
        """Whether the peer announced it takes part in typing indicators."""
        return self.core.peer_typing_enabled

    # -- moving things between the core, the link and the UI --------------

    def _flush(self, *, strict: bool = False) -> None:
        """Send the core's outbox, then hand its events on.

        ``strict`` (a user's command): a closed link raises ``ClosedError`` (a
        full outbox while reconnecting, ``OutboxFullError``) and what the
        command would have told observers is dropped. Otherwise (our automatic
        replies) both are ignored: ``run`` reports a closed link.
        """
        try:
            for message in self.core.messages_to_send():
                if strict:
                    self.link.send(message)
                else:
                    with contextlib.suppress(ClosedError, OutboxFullError):
                        self.link.send(message)
        except (ClosedError, OutboxFullError):
            self.core.events_to_emit()
            raise
        for event in self.core.events_to_emit():
            self._follow_keys(event)
            self._emit(event)

    def _follow_keys(self, event: AppEvent) -> None:
        """Keep the keys we know under the nicks shown; recognise the host's as it connects."""
        match event:
            case Connected(peer=peer):
                if self._me is not None:
                    self._emit(PeerIdentity(peer, self._me.recognise(self._peer_key, peer)))
                if not self._post_quantum:
                    self._emit(NotPostQuantum(peer))
            case PeerNick(old=old, new=new) | MemberRenamed(old=old, new=new):
                if old in self._keys:
                    self._keys[new] = self._keys.pop(old)
            case MemberLeft(nick=nick):
                self._keys.pop(nick, None)

    def _member_key(self, message: m.MemberKey) -> None:
        """The host passes on a member's key: recognise it (we share no SAS with them)."""
        room = self.core.room
        if self._me is None or room is None or not room.welcomed:
            return
        nick = room.shown(message.nick)
        if nick in (room.nick, room.host) or nick not in room.members:
            return
        self._flush()  # first what came before (the member's join)
        self._keys[nick] = message.key
        self._emit(PeerIdentity(nick, self._me.recognise(message.key, nick), via_host=True))

    def _emit(self, event: AppEvent) -> None:
        if isinstance(event, TransferOffered) and event.ref.incoming:
            event = replace(event, verified=self._sender_verified(event.ref.peer))
        if not isinstance(event, OWN_EVENTS):
            self._on_event(event)
        for observer in self._observers:
            observer(event)

    async def run(self) -> int:
        """Receive until the session ends; return the exit code it ended with."""
        pinger = None
        self._reading = True
        ended = "the chat ended"
        try:
            self.core.greet()
            self._flush(strict=True)
            await self.link.drain()
            self.files.start()
            if self._ping_interval:
                pinger = asyncio.create_task(self._ping_loop(self._ping_interval))
            while True:
                self._take(await self.link.receive())
                try:  # what is already here is handled first, then flushed once
                    while self.link.has_received() and not self.core.over:
                        self._take(await self.link.receive())
                finally:
                    self._flush()
                if self.core.over:
                    return EXIT_OK
        except ConfideError as exc:
            if self._leaving:
                return EXIT_OK
            reason = f"{self.peer_nick} {exc}" if isinstance(exc, PeerGoneError) else _plain(exc)
            ended = reason
            self._emit(Disconnected(reason, exc.exit_code, exc))
            return exc.exit_code
        finally:
            self._ended.set()
            await self.files.stop(ended)
            if pinger is not None:
                pinger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pinger
            await self.link.close()

    def _take(self, message: m.Message) -> None:
        """One message from the host: a file message to the engine, the rest to the core.

        The engine keys the host by its nick: ``peer`` ``""`` (the host itself)
        becomes the host's nick, as the nick is what we address it by.
        """
        if isinstance(message, m.MemberKey):
            self._member_key(message)
            return
        if isinstance(message, FILE_MESSAGES):
            if isinstance(message, m.FileOffer) and self.core.room is None:
                # every chat host greets with Welcome first: an offer before
                # any is a one-shot ``confide send``, which wants ``confide receive``
                self.link.send(m.Bye(JOINED_A_SENDER))
                raise WrongCommandError(FOR_A_FILE)
            if self.core.connected and not self.core.over:
                peer = message.peer or self.peer_nick
                self.files.handle(replace(message, peer=peer))
            return
        before = self.peer_nick
        self.core.receive(message)
        self._rekey_files(message, before)

    def _rekey_files(self, message: m.Message, host_was: str) -> None:
        """A rename: the engine's transfers with the renamed peer go on under its new key.

        The host is keyed by its nick as shown (``peer_nick``); another member
        by the nick the host names it with, so ``Renamed``'s own ``old`` and
        ``new``. Done before the next message, the first under the new name.
        """
        if self.peer_nick != host_was:
            self.files.rename_peer(host_was, self.peer_nick)
        elif isinstance(message, m.Renamed) and not m.same_nick(message.new, self.nick):
            self.files.rename_peer(message.old, message.new)

    def _crowded(self) -> bool:
        room = self.core.room
        return room is not None and len(room.members) > 2

    def _shown_ref(self, ref: TransferRef) -> TransferRef:
        """Name the other end: ``""`` is everyone (an offer of ours to the room)."""
        if ref.peer:
            return ref
        return replace(ref, peer=EVERYONE if self._crowded() else self.peer_nick)

    # -- commands from the UI --------------------------------------------

    def send_file(self, path: str, nick: str | None = None) -> list[TransferRef]:
        """``/send [NICK] PATH``: offer a file or folder to ``nick`` (None: everyone).

        In a room of two "everyone" is the host, addressed by its nick.
        """
        if not self.core.connected or self.core.over:
            raise UsageError("not connected")
        room = self.core.room
        if nick is None:
            peer = "" if self._crowded() else self.peer_nick
        elif room is None:
            if not m.same_nick(nick, self.peer_nick):
                raise UsageError(f"no one called {m.clean_nick(nick)!r} here")
            peer = self.peer_nick
        else:
            if m.same_nick(nick, self.nick):
                raise UsageError("that is you")
            peer = next((n for n in room.members if m.same_nick(nick, n)), "")
            if not peer:
                raise UsageError(f"no one called {m.clean_nick(nick)!r} here")
        return self.files.offer(path, peer)

    def say(self, text: str) -> int:
        """Send a chat line; return its id (receipts name it)."""
        mid = self.core.say(text)
        self._flush(strict=True)
        return mid

    def act(self, text: str) -> int:
        """Send a ``/me`` action; return its id."""
        mid = self.core.act(text)
        self._flush(strict=True)
        return mid

    def private(self, nick: str, text: str) -> int:
        """``/msg NICK TEXT``: a line for one member, through the host; return its id."""
        mid = self.core.private(nick, text)
        self._flush(strict=True)
        return mid

    def rename(self, nick: str) -> str:
        """Change our nick and tell the peer; return it.

        ``UsageError`` (nothing changes) if ``messages.nick_problem`` refuses it
        or it looks like the peer's nick.
        """
        new = self.core.rename(nick)
        self._flush(strict=True)
        return new

    def typing(self, on: bool) -> None:
        """Tell the peer we started or stopped typing (only if both sides enabled it)."""
        self.core.typing(on)
        self._flush()

    async def drain(self) -> None:
        """Wait for queued messages to reach the kernel."""
        await self.link.drain()

    async def abort(self) -> None:
        """Close at once, dropping what the peer has not read (it stopped reading)."""
        await self.link.abort()

    async def leave(self, reason: str = "bye") -> None:
        """Say goodbye and close; the peer sees ``PeerLeft``.

        After the goodbye we half-close and, while ``run`` is reading, let it
        read until the peer closes too (at most ``LEAVE_TIMEOUT`` in all):
        closing with its receipts unread would reset the connection, and a
        reset makes the peer lose the messages it had not read yet.
        """
        if self._leaving:
            return
        self._leaving = True
        deadline = asyncio.get_running_loop().time() + LEAVE_TIMEOUT
        with contextlib.suppress(ConfideError, TimeoutError):  # a peer that stops reading
            self.core.leave(reason)
            self._flush(strict=True)
            await asyncio.wait_for(self.link.drain(), LEAVE_TIMEOUT)
            self.link.shutdown_write()
            if self._reading:
                left = deadline - asyncio.get_running_loop().time()
                await asyncio.wait_for(self._ended.wait(), max(left, 0))
        await self.link.close()

    async def _ping_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.core.ping()
            self._flush()


def _plain(exc: ConfideError) -> str:
    if isinstance(exc, ClosedError | WrongCommandError):
        return str(exc)
    return f"connection ended: {exc}"
