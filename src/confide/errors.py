"""One root for every error confide raises, and who is at fault.

``ConfideError`` is the root. Its three branches say who caused the failure:
``LocalError`` (this side: bad usage, unreadable file), ``RemoteError`` (the
peer or the network sent something wrong), and ``ClosedError`` (the
connection ended). ``RelayError`` is a relay's ``CLOSE``: it carries the
relay's reason, and ``confide.ui.texts`` turns it into words. Each error
carries the process exit code the CLI uses, so the mapping from failure to
exit status lives in one place.

Exit codes (README "Exit codes", ``confide --help``):

====  ================================================================
0     done: the chat ended normally; ``send``/``receive``: every file
      arrived and its hash was verified
1     an error: unexpected, or for ``send``/``receive`` an offer was
      declined, a hash did not match, the disk is full (the ``.part``
      is kept), ...; the code is for the other command (a chat's code
      given to ``receive``, a transfer's to ``join``); the identity key
      file or the contacts file is unreadable or corrupt
      (``ContactsError``); ``contacts forget`` of an unknown nick
2     usage error: bad arguments, no code, an unreadable file or path
3     wrong code or password (``AuthenticationError``)
4     could not connect, or the connection was lost and did not come
      back within ``--resume-window`` (``RemoteError``, ``ClosedError``)
130   interrupted (Ctrl-C)
====  ================================================================

Every one of them is one plain line on stderr, never a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from confide.wire.routing import Reason

# Documented exit codes (README, ``confide --help``).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_CONNECT = 4
EXIT_INTERRUPTED = 130


class ConfideError(Exception):
    """Root of every confide error; ``exit_code`` is what the CLI exits with."""

    exit_code = EXIT_ERROR


class LocalError(ConfideError):
    """This side is at fault: bad arguments, an unreadable file, bad configuration."""


class OutboxFullError(LocalError):
    """A resumable link's outbox is full: the message was neither sent nor kept.

    ``waiting`` is how many messages wait for the peer's acknowledgement.
    """

    def __init__(self, waiting: int) -> None:
        super().__init__(f"{waiting} messages are waiting for the peer; this one was not sent")
        self.waiting = waiting


class WrongCommandError(LocalError):
    """The code is for the other kind of session: a chat joined with ``confide receive``,
    or a file transfer with ``confide join``. Exit 1; the message says which command."""


FOR_A_CHAT = "that code is for a chat, not a file: use confide join"
"""What ``confide receive`` says when the code is a ``confide host`` chat's."""
FOR_A_FILE = "that code is for a file transfer: use confide receive"
"""What ``confide join`` says when the code is a ``confide send``'s."""


class ContactsError(LocalError):
    """The contacts file is corrupt, unreadable or unwritable (exit 1, one line naming it).

    confide never starts afresh over a corrupt file: the user fixes or removes it.
    """


class UsageError(LocalError):
    """The command line or an input was malformed."""

    exit_code = EXIT_USAGE


class RemoteError(ConfideError):
    """The peer, or something on the path to it, sent something wrong."""

    exit_code = EXIT_CONNECT


class ProtocolError(RemoteError):
    """Bytes from the peer broke the protocol: bad framing, bad message, bad order."""


class DecryptError(ProtocolError):
    """A record failed authentication. Every decryption failure looks the same."""

    def __init__(self) -> None:
        super().__init__("a record failed authentication (tampered, replayed or reordered)")


class AuthenticationError(RemoteError):
    """Key confirmation failed: the two sides did not share the same code or password."""

    exit_code = EXIT_AUTH


class RoomClosedError(AuthenticationError):
    """A password room took its last wrong guess: the host stops (exit 3)."""


class RefusedError(RemoteError):
    """The peer refused us before the handshake finished (room full, unknown room)."""


class NotPostQuantumError(RefusedError):
    """``--require-pq`` and the peer cannot run the post-quantum step (below version 4; exit 4)."""


class SessionGoneError(RefusedError):
    """The host refused a resume with ``no-session``: the session is over (exit 4)."""


class ClosedError(ConfideError):
    """The connection ended: the peer left, or the network dropped it."""

    exit_code = EXIT_CONNECT


class PeerGoneError(ClosedError):
    """A session's peer did not come back within the resume window (exit 4).

    ``window`` is that window in seconds; the session names the peer in its line
    (``bob did not come back within 5 min``).
    """

    def __init__(self, window: float) -> None:
        super().__init__(f"did not come back within {format_window(window)}")
        self.window = window


def format_window(seconds: float) -> str:
    """A resume window in words: ``5 min``, ``90 s``, ``1 h``."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


class RelayError(ConfideError):
    """A relay ended our connection with a ``CLOSE``: ``reason`` (None if unknown) says why.

    ``where`` names the relay ("the relay at HOST:PORT"), ``nameplate`` the room
    if one was named, ``retry_after`` the seconds the relay asked us to wait.
    ``str()`` is a short generic line; ``confide.ui.texts.describe`` says it in words.
    """

    def __init__(
        self, reason: Reason | None, retry_after: int, where: str, nameplate: str = ""
    ) -> None:
        label = reason.label if reason is not None else "no reason given"
        super().__init__(f"{where} closed the connection ({label})")
        self.reason = reason
        self.retry_after = retry_after
        self.where = where
        self.nameplate = nameplate


class RelayRefusedError(RelayError, RefusedError):
    """The relay refused to connect us (exit 4)."""


class RelayClosedError(RelayError, ClosedError):
    """The relay ended a connection that was already forwarding (exit 4)."""


class RelayTooOldError(RelayRefusedError):
    """The relay refused ``MEET`` as ``bad-frame``: it is too old to resume sessions."""
