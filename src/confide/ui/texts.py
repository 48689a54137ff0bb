"""The words users read when a relay ends a connection.

The net layer raises ``RelayError`` (``RelayRefusedError`` before a chat,
``RelayClosedError`` during one) with the relay's reason code; this module
says it as one plain line. ``describe`` serves ``confide: ...`` on the
command line; ``disconnect_reason`` the end of a chat in both UIs and the
transcript.
"""

from __future__ import annotations

from confide.errors import ClosedError, ConfideError, RelayError, RelayTooOldError
from confide.wire.routing import Reason


def close_text(reason: Reason | None, retry_after: int, where: str, nameplate: str = "") -> str:
    """One plain line for a ``CLOSE`` from the relay."""
    room = f"room {nameplate}" if nameplate else "that room"
    texts = {
        Reason.UNKNOWN_ROOM: f"{where} has no {room} (check the code's number; has the host left?)",
        Reason.RATE_LIMITED: f"{where} refused: too many join attempts for {room}; "
        f"try again in {retry_after} s",
        Reason.RELAY_FULL: f"{where} is full (too many rooms); try again later",
        Reason.TOO_MANY_CONNECTIONS: f"{where} refused: too many connections from your address",
        Reason.RELAY_BUSY: f"{where} is busy (it has all the connections it takes, "
        "from all addresses); try again later",
        Reason.ALREADY_WAITING: f"{where} refused: a join from your address is already "
        f"waiting for {room}; try again in a moment",
        Reason.FRAME_TOO_LARGE: f"{where} did not understand us (a different version?)",
        Reason.BAD_FRAME: f"{where} did not understand us (a different version?)",
        Reason.HELLO_TIMEOUT: f"{where} gave up waiting for us",
        Reason.IDLE_TIMEOUT: f"{where} closed the connection after it was idle too long",
        Reason.SHUTDOWN: f"{where} shut down",
        Reason.PEER_GONE: f"the other side's connection to {where} ended",
        Reason.EXPIRED: f"the room's time on {where} ran out",
        Reason.NO_ANSWER: f"the host did not answer through {where}",
        Reason.HOST_GONE: f"the host left {where}",
        Reason.HOST_AWAY: f"the host of {room} lost its connection to {where} and has not "
        "come back yet; try again in a moment",
        Reason.MEET_TIMEOUT: f"the other side did not come to {where} in time",
        Reason.MEET_TAKEN: f"{where} refused: two others already met under that name",
        Reason.ELSEWHERE: f"{where} refused: another node of that relay holds {room}",
        Reason.DIRECTORY_UNAVAILABLE: f"{where} refused: relay directory unavailable; try again",
    }
    if reason is None:
        return f"{where} closed the connection"
    return texts[reason]


def too_old_text(where: str) -> str:
    """The line for a relay that refused ``MEET``: it predates resuming."""
    return f"{where} can't resume sessions (it is too old)"


def describe(exc: BaseException) -> str:
    """One plain line for an error: the relay's reason in words, else the error's own text."""
    if isinstance(exc, RelayTooOldError):
        return too_old_text(exc.where)
    if isinstance(exc, RelayError):
        return close_text(exc.reason, exc.retry_after, exc.where, exc.nameplate)
    return str(exc)


def disconnect_reason(reason: str, error: ConfideError | None) -> str:
    """Why a chat ended: the ``Disconnected`` event's ``reason``, in words if a relay ended it."""
    if not isinstance(error, RelayError):
        return reason
    if isinstance(error, ClosedError):
        return describe(error)
    return f"connection ended: {describe(error)}"
