"""The one-shot transfers: ``confide send PATH...`` and ``confide receive``.

How this works. The session is reached exactly as a chat's is
(``app.run``): the sender hosts (``host_session``: listen, tunnel, relay,
discovery, the code, the resume book; ``Hosting.link`` gives the first
confirmed joiner's resumable link) and the receiver joins
(``join_session``: ``--at``, the LAN or a relay, redialling after a drop).
Then both ends drive one ``app.transfer.Transfers`` over that link, with
no chat around it:

1. Each end first sends its ``Nick`` (the host admits a joiner at its first
   message; the receiver shows the sender's nick with each offer).
2. The sender offers every path (``Transfers.offer``), all at once, so all
   its offers reach the receiver before any chunk can.
3. The receiver answers each offer in turn (``ask``: the user, or ``--yes``)
   and the engine streams what was accepted (``Transfers.run``: chunks, acks,
   the final hash check and rename).
4. Once every offer it made has ended (done or failed), the sender says
   ``Bye("sent")``: nothing more is coming.
5. Once the sender said so and every offer it saw has ended, the receiver
   answers ``Bye`` with ``received`` (all accepted, all verified) or what
   went wrong, and closes; the sender then closes too.

Exit codes (``confide.errors``): 0 when every offer arrived verified (the
receiver said ``received``), 1 when one was declined or failed, and the
error's own code when the session ends (4: the connection, and it did not
come back within the resume window; 3: a wrong code, from the handshake).
A cut connection is resumed by the link and the engine goes on from where
the receiver's writes stopped. What the user sees comes through a
``TransferUI`` (the CLI builds it: progress on stderr, a prompt).

Identities: when the peer's ``Nick`` comes, the contacts recognise the key
it proved (a ``PeerIdentity`` for the UI: a changed key is warned about
here too), and each offer names its sender as a verified contact or not
(``bob (verified)``). A one-shot session has no ``/verify``: it only
records the key as seen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from confide.app.events import (
    AppEvent,
    Notice,
    NotPostQuantum,
    PeerIdentity,
    TransferDone,
    TransferFailed,
    TransferOffered,
    TransferRef,
)
from confide.app.identities import Identities, Meeting, proved_key
from confide.app.link import Link, LinkDown, LinkUp
from confide.app.run import Arrivals, Hosting, HostOptions, JoinOptions, host_session, join_session
from confide.app.transfer import Transfers, link_flow
from confide.errors import (
    EXIT_ERROR,
    EXIT_OK,
    FOR_A_CHAT,
    ClosedError,
    ConfideError,
    LocalError,
    WrongCommandError,
)
from confide.net.host import Established
from confide.protocol.messages import Bye, FileAccept, FileCancel, Message, Nick, Welcome

SENT = "sent"
"""The sender's ``Bye`` reason: every offer has ended on its side, nothing more comes."""
RECEIVED = "received"
"""The receiver's ``Bye`` reason when every offer arrived and was verified."""
INTERRUPTED = "interrupted"
"""The ``Bye`` reason of an end stopped with Ctrl-C."""
MAX_REASON = 1000
"""Characters of the receiver's ``Bye`` that list what went wrong (a message has a size limit)."""
CLOSE_WAIT = 2.0
"""Seconds the last ``Bye`` may take to leave before the link is closed anyway."""
JOINED_A_CHAT = "ran confide receive: a chat needs confide join"
"""The receiver's ``Bye`` to a chat host (``confide host``), whose ``Welcome`` came first."""

Key = tuple[str, int, bool]


class TransferUI(Protocol):
    """What the one-shot commands show and ask (the CLI's implementation)."""

    def on_event(self, event: AppEvent) -> None:
        """A transfer event (progress, done, failed)."""

    def line(self, text: str) -> None:
        """One status line."""

    def saved(self, ref: TransferRef, path: str) -> None:
        """An incoming transfer got its final name ``path``."""

    async def ask(self, ref: TransferRef, sender: str) -> bool:
        """Whether to accept the offer ``ref`` from ``sender``."""


@dataclass
class SendOptions:
    """Everything ``confide send`` was asked for."""

    host: HostOptions
    paths: list[Path]


@dataclass
class ReceiveOptions:
    """Everything ``confide receive`` was asked for."""

    join: JoinOptions
    folder: Path
    resume: bool = False  # continue a NAME.part of an offered name


def key(ref: TransferRef) -> Key:
    """A transfer's identity among the others of the session."""
    return (ref.peer, ref.id, ref.incoming)


async def send_files(opts: SendOptions, ui: TransferUI) -> int:
    """Host, wait for one receiver, offer every path, stream; return the exit code."""

    async def serve(hosting: Hosting, first: Established, arrivals: Arrivals) -> int:
        del arrivals  # one receiver: the room (two members) refuses the rest
        ends = _Ends(hosting.link(first), opts.host.nick, ui, Path.cwd(), receiving=False)
        if not first.done.post_quantum:
            ui.on_event(NotPostQuantum("the receiver"))
        if hosting.me is not None:
            ends.identify(proved_key(first.done), hosting.me)
        return await ends.send(opts.paths)

    opts.host.max_members = 2
    opts.host.pq_refusal_ends = True  # one receiver: --require-pq refusing it ends the send
    return await host_session(opts.host, serve)


async def receive_files(opts: ReceiveOptions, ui: TransferUI) -> int:
    """Join the sender, answer its offers, receive into ``opts.folder``; return the exit code."""

    async def use(link: Link, meeting: Meeting) -> int:
        ends = _Ends(link, opts.join.nick, ui, opts.folder, receiving=True)
        if not meeting.post_quantum:
            ui.on_event(NotPostQuantum("the sender"))
        ends.identify(meeting.peer_key, meeting.me)
        return await ends.receive(opts.folder, resume=opts.resume)

    return await join_session(opts.join, use)


class _Ends:
    """One end of a one-shot session: the engine over the link, and what was said."""

    def __init__(
        self, link: Link, nick: str, ui: TransferUI, downloads: Path, *, receiving: bool
    ) -> None:
        self.link = link
        self.receiving = receiving
        self.nick = nick
        self.ui = ui
        self.peer_nick = ""
        self.peer_bye: str | None = None
        self.outcomes: dict[Key, AppEvent] = {}
        self.offers: asyncio.Queue[TransferRef] = asyncio.Queue()
        self.asking = False
        self.answered = False  # the receiver answered an offer (accepted or declined)
        self.chat_host = False  # a receiver was greeted with a chat's Welcome
        self._changed = asyncio.Event()
        self._up = asyncio.Event()
        self._up.set()
        self._pump: asyncio.Task[None] | None = None
        self._link_flow = link_flow(lambda peer: self.link)
        self.transfers = Transfers(self._send, self._on_event, downloads=downloads, flow=self._flow)
        self._me: Identities | None = None
        self._peer_key = b""
        self.peer_verified: bool | None = None
        """Whether the peer's key is a verified contact (None: not known yet)."""

    def identify(self, peer_key: bytes, me: Identities) -> None:
        """The key the peer proved and our contacts: recognised when its nick comes."""
        self._peer_key, self._me = peer_key, me

    # -- the two roles -------------------------------------------------------

    async def send(self, paths: list[Path]) -> int:
        """Offer ``paths``, stream them, say ``Bye``; 0 once the receiver verified them all."""
        self.link.send(Nick(self.nick))
        offered: list[Key] = []
        for path in paths:
            offered += [key(ref) for ref in self.transfers.offer(path)]
        async with self._running():
            await self._until(lambda: self.peer_bye is not None or self._ended(offered))
            if self.peer_bye is None:
                await self._say(Bye(SENT))
                await self._until(lambda: self.peer_bye is not None)
        failed = [e for e in self.outcomes.values() if isinstance(e, TransferFailed)]
        if self.peer_bye == RECEIVED and not failed and self._ended(offered):
            self.ui.line(f"{self._them()} received everything: done")
            return EXIT_OK
        if not self.answered:  # it left without a word on the offers (e.g. a chat's join)
            self.ui.line(f"{self._them()} left: {self.peer_bye}")
            return EXIT_ERROR
        self.ui.line(f"{self._them()} did not receive everything: {self.peer_bye}")
        return EXIT_ERROR

    async def receive(self, folder: Path, *, resume: bool) -> int:
        """Answer each offer, receive what was accepted; 0 if every offer arrived verified."""
        self.link.send(Nick(self.nick))
        async with self._running():
            answers = asyncio.create_task(self._answer(folder, resume=resume))
            try:
                await self._until(lambda: self.chat_host or self._receiver_finished())
            finally:
                answers.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await answers
            if self.chat_host:  # tell the host we leave, then say why
                await self._farewell(JOINED_A_CHAT)
                raise WrongCommandError(FOR_A_CHAT)
            problems = self._problems()
            await self._say(Bye("; ".join(problems)[:MAX_REASON] or RECEIVED))
        return EXIT_ERROR if problems else EXIT_OK

    def _receiver_finished(self) -> bool:
        return (
            self.peer_bye is not None
            and self.offers.empty()
            and not self.asking
            and not self.transfers.pending()
            and not self.transfers.active()
        )

    async def _answer(self, folder: Path, *, resume: bool) -> None:
        """Ask about each incoming offer in turn; accept or decline it."""
        while True:
            ref = await self.offers.get()
            self.asking = True
            try:
                try:
                    accepted = await self.ui.ask(ref, self._them() + self._marked())
                except ConfideError as exc:  # no answer (end of input)
                    self.ui.line(str(exc))
                    accepted = False
                if not accepted:
                    self.transfers.decline(ref)
                    self.outcomes[key(ref)] = TransferFailed(ref, "declined")
                    continue
                try:
                    self.transfers.accept(ref, folder=folder, resume=resume)
                except LocalError as exc:  # no room for it, an unwritable folder
                    self.outcomes[key(ref)] = TransferFailed(ref, str(exc))
                    self.ui.line(f"{ref.name}: not received: {exc}")
                    with contextlib.suppress(ConfideError):
                        self.transfers.decline(ref)
            finally:
                self.asking = False
                self._changed.set()

    def _problems(self) -> list[str]:
        return [
            f"{e.ref.name}: {e.reason}"
            for e in self.outcomes.values()
            if isinstance(e, TransferFailed)
        ]

    # -- the session ----------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _running(self) -> AsyncIterator[None]:
        """The engine's pump while the body runs; the link closed after it, whatever happens."""
        self._pump = asyncio.create_task(self.transfers.run())
        try:
            yield
        except ConfideError as exc:
            self.transfers.close(str(exc))
            raise
        except asyncio.CancelledError:  # Ctrl-C: tell the peer, keep the .part files
            self.transfers.close(INTERRUPTED)
            await self._farewell(INTERRUPTED)
            raise
        finally:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConfideError):
                await self._pump
            self._pump = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_WAIT):
                    await self.link.close()
            await self.link.abort()

    async def _say(self, message: Message) -> None:
        """Send ``message``; if the link has ended, raise why (the reader's error, not the send's).

        A transfer fails as soon as a send finds the link ended, so an end
        can look finished while the reason (e.g. the peer could not open
        what we sent) still waits in the link to be read.
        """
        try:
            self.link.send(message)
        except ClosedError:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_WAIT):
                    while True:
                        self._take(await self.link.receive())
            raise

    async def _farewell(self, reason: str) -> None:
        """Say ``Bye(reason)`` and read on until the peer closes (at most ``CLOSE_WAIT``).

        Closing with the peer's data unread would reset the connection, and a
        reset can take our ``Bye`` with it before the peer reads it.
        """
        with contextlib.suppress(ConfideError, TimeoutError):
            self.link.send(Bye(reason))
            self.link.shutdown_write()
            async with asyncio.timeout(CLOSE_WAIT):
                while True:
                    await self.link.receive()

    async def _until(self, done: Callable[[], bool]) -> None:
        """Read the link until ``done()``; what ends the link or the pump is raised."""
        reader = asyncio.create_task(self._read())
        pump = self._pump
        assert pump is not None
        try:
            while not done():
                changed = asyncio.create_task(self._changed.wait())
                await asyncio.wait({reader, pump, changed}, return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
                self._changed.clear()
                if done():
                    return
                if pump.done() and not reader.done():
                    # the pump's send fails as soon as the link ends; why it
                    # ended (tampering, the window over) is the reader's to say
                    await asyncio.wait({reader}, timeout=CLOSE_WAIT)
                for task in (reader, pump):
                    if task.done():
                        self._raise_end(task)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConfideError):
                await reader

    def _raise_end(self, task: asyncio.Task[None]) -> None:
        """Raise what ended ``task`` (the reader or the pump), in the peer's words if it left."""
        try:
            task.result()
        except ClosedError:
            if self.peer_bye is None or self.peer_bye in (SENT, RECEIVED):
                raise
            raise ClosedError(f"{self._them()} stopped: {self.peer_bye}") from None
        raise ClosedError("the session ended early")

    async def _read(self) -> None:
        while True:
            self._take(await self.link.receive())

    def _take(self, message: Message) -> None:
        """One message from the peer; a file message's outcome comes back as an event."""
        if isinstance(message, FileAccept | FileCancel):
            self.answered = True
        if self.transfers.handle(message):
            return
        self._changed.set()
        if isinstance(message, Welcome) and self.receiving:  # a chat host greets with it
            self.chat_host = True
            return
        if isinstance(message, Nick):
            first = not self.peer_nick
            self.peer_nick = message.nick
            self.ui.line(f"connected to {self._them()}")
            if first and self._me is not None:
                found = self._me.recognise(self._peer_key, self.peer_nick)
                self.peer_verified = self._me.is_verified(self._peer_key)
                self.ui.on_event(PeerIdentity(self.peer_nick, found))
        elif isinstance(message, Bye):
            self.peer_bye = message.reason
        elif isinstance(message, LinkDown):
            self._up.clear()
            self.ui.line(f"connection lost ({message.reason}): reconnecting")
        elif isinstance(message, LinkUp):
            self._up.set()
            self.ui.line("reconnected: the transfer goes on")

    def _send(self, message: Message) -> None:
        self.link.send(message)

    async def _flow(self, peer: str) -> None:
        """Before each chunk: the link is up, and has room (``link_flow``)."""
        await self._up.wait()  # while down, nothing is sent: the resend will carry it all
        await self._link_flow(peer)

    def _on_event(self, event: AppEvent) -> None:
        if isinstance(event, TransferOffered):
            if event.ref.incoming and self.receiving:
                self.offers.put_nowait(event.ref)
            elif event.ref.incoming:  # a sender takes nothing
                self.transfers.decline(event.ref)
            else:
                self.ui.line(f"offering {event.ref.name}")
        elif isinstance(event, Notice):  # e.g. a tree's link that was not made
            self.ui.line(event.text)
            return
        elif isinstance(event, TransferDone | TransferFailed):
            self.outcomes[key(event.ref)] = event
            if isinstance(event, TransferDone) and event.ref.incoming:
                self.ui.saved(event.ref, event.path)
        self.ui.on_event(event)
        self._changed.set()

    def _ended(self, keys: list[Key]) -> bool:
        return all(k in self.outcomes for k in keys)

    def _them(self) -> str:
        return self.peer_nick or "the peer"

    def _marked(self) -> str:
        """`` (verified)`` or `` (not verified)`` after the sender's nick (none: not known)."""
        if self.peer_verified is None:
            return ""
        return " (verified)" if self.peer_verified else " (not verified)"
