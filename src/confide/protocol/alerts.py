"""ALERT records: a side's refusal, sent in the clear before the keys are final.

How this works. An ALERT is one plaintext record holding the msgpack map
``{"reason": str}`` (``room-full`` adds ``members``: the room's limit); the
sender closes after it (docs/PROTOCOL.md §4.3). ``alert_frame`` builds one;
``alert_error`` turns a received one into the ``ConfideError`` the receiving
side raises, with a line a person can act on. An unknown reason (from a
newer peer) is a plain refusal. ``connection.py`` sends and takes them, and
re-exports every name here.
"""

from __future__ import annotations

import msgpack

from confide.errors import AuthenticationError, ConfideError, RefusedError, SessionGoneError
from confide.protocol.framing import encode_frame
from confide.protocol.records import ALERT, plain_record

ALERT_AUTH = "auth-failed"
ALERT_ROOM_FULL = "room-full"
ALERT_UNKNOWN_ROOM = "unknown-room"
ALERT_VERSION = "no-common-version"
ALERT_TIMEOUT = "timeout"
ALERT_PROTOCOL = "protocol-error"
ALERT_BUSY = "busy"
ALERT_NO_GUESSES = "no-guesses"
ALERT_NO_SESSION = "no-session"
ALERT_NOT_PQ = "not-post-quantum"
ALERT_TEXT = {
    ALERT_PROTOCOL: "the peer could not make sense of our handshake",
    ALERT_AUTH: "wrong code or password",
    ALERT_ROOM_FULL: "room full",
    ALERT_UNKNOWN_ROOM: "no such room here (check the code's number)",
    ALERT_VERSION: "the peer speaks no protocol version we know",
    ALERT_TIMEOUT: "the peer gave up waiting for the handshake",
    ALERT_BUSY: "the host is busy with other join attempts; try again in a few seconds",
    ALERT_NO_GUESSES: "the host takes no more guesses at this code or password "
    "(too many failed joins); ask the host for a new one",
    ALERT_NO_SESSION: "the host has no such session (it ended, or this ticket was already used)",
    ALERT_NOT_PQ: "the peer requires post-quantum key exchange (--require-pq), "
    "and this connection did not offer it",
}
"""What a side shows for each reason it receives."""


def printable(text: str, limit: int = 200) -> str:
    """``text`` without control characters, at most ``limit`` characters (a peer's words)."""
    return "".join(c for c in text if c.isprintable())[:limit]


def alert_frame(reason: str, *, members: int | None = None) -> bytes:
    """A framed ALERT record; the I/O layer sends it to refuse a connection.

    ``members``: with ``room-full``, the room's limit (the joiner names it).
    """
    fields: dict[str, object] = {"reason": reason}
    if members is not None:
        fields["members"] = members
    body: bytes = msgpack.packb(fields, use_bin_type=True)
    return encode_frame(plain_record(ALERT, body))


def alert_error(body: bytes | memoryview, *, auth_text: str = "") -> ConfideError:
    """The error a received ALERT's ``body`` ends the handshake with.

    ``auth_text`` replaces the line of ``auth-failed`` (a version-4 side
    whose hybrid keys did not open at the peer says so instead).
    """
    try:
        decoded = msgpack.unpackb(body, raw=False)
    except Exception:
        decoded = None
    reason = decoded.get("reason") if isinstance(decoded, dict) else None
    if not isinstance(reason, str):
        reason = ""
    text = ALERT_TEXT.get(reason, "the peer refused the connection")
    members = decoded.get("members") if isinstance(decoded, dict) else None
    if reason == ALERT_ROOM_FULL and type(members) is int and 2 <= members <= 1000:
        text = f"{text} ({members} members)"
    if reason == ALERT_AUTH:
        return AuthenticationError(auth_text or text)
    if reason == ALERT_NO_SESSION:
        return SessionGoneError(text)
    return RefusedError(text)
