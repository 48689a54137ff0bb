"""What a user interface drives: one ``Session`` API for a joiner and for a host.

A joiner's session (``app.chat.ChatSession``) talks to the host; the host's
(``app.room_session.RoomSession``) is the hub of the room. Both offer the
same commands and hand the same ``AppEvent`` kinds to the UI, so line mode
and the full-screen UI never ask which one they have, except through
``is_host`` for what only a host may do (``/kick``, ``/code``), where the
joiner's session answers with a ``UsageError`` the UI shows.

Files: ``send_file``, ``accept_file``, ``decline_file`` and ``cancel_file``
name transfers as the user does (a file's name, or the other end's nick);
``file_offers`` lists the offers waiting for an answer (the full-screen
UI's ``y`` accepts the only one). Their events are the ``Transfer*`` ones.

``SessionSource`` is what ``app.run`` hands a UI: everything but the UI's own
event sink, so the UI builds its session with its sink and nothing is
patched in later. ``observed_by`` adds an observer (a transcript).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from confide.app.events import AppEvent, TransferRef

EventSink = Callable[[AppEvent], None]


@dataclass(frozen=True, slots=True)
class MemberView:
    """One line of ``/who`` as the viewer knows it.

    ``sas`` is the viewer's SAS with that member when there is one (the
    host with each member; a member with the host), else ``()``.
    ``verified`` is what the viewer marked with ``/verify ok`` (None: never).
    ``fingerprint`` is the member's identity key as people compare it (``""``:
    none known), ``known`` whether the viewer verified that key before, in
    this chat or an earlier one (None: no key known).
    ``post_quantum`` whether the viewer's session with that member rests on
    ML-KEM too (protocol version 4), where the viewer has one (else None).
    """

    nick: str
    is_host: bool
    is_you: bool
    sas: tuple[str, ...] = ()
    verified: bool | None = None
    fingerprint: str = ""
    known: bool | None = None
    post_quantum: bool | None = None


class Session(Protocol):
    """The commands and state every UI uses; see the module docstring."""

    @property
    def nick(self) -> str:
        """Our nick in this chat."""

    @property
    def is_host(self) -> bool:
        """True for the host of the room (the hub)."""

    @property
    def peer_nick(self) -> str:
        """A joiner: the host's nick. The host: its first member's (a room of two is 1:1)."""

    @property
    def sas(self) -> tuple[str, ...]:
        """A joiner: its SAS with the host. The host: ``()`` (one per member, see ``who``)."""

    typing_enabled: bool

    def say(self, text: str) -> int:
        """Send a chat line to the room; return its id (receipts name it)."""

    def act(self, text: str) -> int:
        """Send a ``/me`` action; return its id."""

    def private(self, nick: str, text: str) -> int:
        """``/msg NICK TEXT``: a line for one member only; return its id."""

    def rename(self, nick: str) -> str:
        """Change our nick; ``UsageError`` (nothing changes) if it can't be used."""

    def typing(self, on: bool) -> None:
        """We started or stopped typing (sent only where everyone opted in)."""

    def kick(self, nick: str) -> None:
        """Host: remove ``nick`` from the room. A joiner: ``UsageError``."""

    def who(self) -> list[MemberView]:
        """Everyone in the room, in join order, as the viewer knows them."""

    def whoami(self) -> str:
        """``/whoami``: our identity's fingerprint, as the peer may compare it."""

    def code(self) -> str | None:
        """Host: the code that invites more people (None for a password room).

        A joiner: ``UsageError``.
        """

    def mark_verified(self, nick: str | None, ok: bool) -> None:
        """``/verify ok`` (or forget): remember the viewer compared the SAS with ``nick``
        (None: the joiner's host, or the only member).

        With an identity key from that peer, ``ok`` stores it as a verified
        contact (it lasts across chats) and ``forget`` removes it.
        """

    def send_file(self, path: str, nick: str | None = None) -> list[TransferRef]:
        """``/send [NICK] PATH``: offer a file or folder (None: everyone; 1:1, the peer).

        ``UsageError`` if ``path`` can't be sent or no one is called ``nick``.
        """

    def accept_file(self, name: str | None = None) -> TransferRef:
        """``/accept [NAME]``: take an offer (the only one, or the one called ``name``)."""

    def decline_file(self, name: str | None = None) -> TransferRef:
        """``/decline [NAME]``: refuse an offer (the only one, or the one called ``name``)."""

    def cancel_file(self, name: str | None = None) -> TransferRef:
        """``/cancel [NAME]``: stop a running transfer, ours or theirs."""

    def file_offers(self) -> list[TransferRef]:
        """Offers to us not answered yet."""

    async def run(self) -> int:
        """Run until the chat ends; return the exit code it ended with."""

    async def leave(self, reason: str = "bye") -> None:
        """Say goodbye and close (the host closes the room for everyone)."""

    async def drain(self) -> None:
        """Wait for queued messages to reach the kernel."""

    async def abort(self) -> None:
        """Drop what a peer never read and close now."""


class SessionSource(Protocol):
    """What ``app.run`` hands a UI: it builds the session with its own sink."""

    def session(self, on_event: EventSink, *, typing_enabled: bool = False) -> Session:
        """The session, handing its events to ``on_event`` and to every observer."""

    def observed_by(self, observer: EventSink) -> SessionSource:
        """The same source with one more observer (e.g. a transcript)."""
