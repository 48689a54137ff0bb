"""The hosted room's policy: who may join, what a failed join means, when a code is renewed.

Pure (no asyncio, no sockets; randomness is passed in). ``net.host.Host``
accepts the streams and runs the handshakes; at each step it asks a
``RoomPolicy`` (the ``net.admission.RoomRules`` it expects) and acts on the
answer. The rules:

- A new connection is refused at once with ``room-full`` (naming the
  limit) when the room has ``max_members`` members, the host included,
  ``no-guesses`` when a password room is closed, and ``busy`` when
  ``MAX_PENDING`` connections are already in progress.
- Guessing is ``app.guesses``' rule (read its docstring): each connection's
  ``Join`` spends, refunds or counts one guess of the room's ``GuessBudget``.
- A failed join is one status line: a wrong guess says how many of the
  ``MAX_GUESSES`` are used; a failure before any guess was spent is a line
  that may repeat (the host throttles it). The last guess of a code retires
  it: a new code is made (on the fixed ``nameplate`` if one is set, as a
  relay's room is; else on a new random one) and the host shows it. The last
  guess of a password room closes the room for good.
- A joiner refused by ``--require-pq`` (an older confide, before any guess
  was spent) is a line that may repeat too, saying so.
- A confirmed joiner becomes a member when its first message arrives, if
  there is still a place (``max_members`` counts the host, so a room of
  ``max_members`` holds one fewer joiner); ``member_left`` frees the place
  again.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from confide.app.guesses import CLOSED, MAX_GUESSES, RETIRED, Attempt, Failure, GuessBudget
from confide.app.room_limits import DEFAULT_MEMBERS
from confide.app.secret import Secret
from confide.errors import AuthenticationError, ConfideError, NotPostQuantumError
from confide.net.admission import TOO_MANY, Failed, Line, Refusal
from confide.protocol import codes
from confide.protocol.connection import ALERT_BUSY, ALERT_NO_GUESSES, ALERT_ROOM_FULL

MAX_PENDING = 64
"""Connections a host keeps before their handshake ends; more are refused ``busy`` at once."""
PASSWORD_ROOM_CLOSED = (
    f"{MAX_GUESSES} wrong passwords: this room is closed; host again with a new password"
)
RETIRED_LINE = f"{MAX_GUESSES} failed joins: that code is retired"
NOT_PQ_REFUSED = "refused a joiner: not post-quantum (--require-pq)"
"""The throttling key of the line for a joiner ``--require-pq`` refused."""
_VARYING = re.compile(r"'[^']*'|\d+")


@dataclass
class RoomPolicy:
    """The rules of one hosted room (``net.admission.RoomRules``)."""

    secret: Secret
    randbelow: codes.RandBelow = secrets.randbelow
    """Randomness for new codes."""
    max_members: int = DEFAULT_MEMBERS
    """Members the room holds, the host included (2 to ``MAX_MEMBERS``)."""
    nameplate: str = ""
    """Every new code's nameplate ("": a new random one each time)."""
    members: int = 0
    """Joiners admitted and not gone yet (the host is not counted)."""
    describe: Callable[[BaseException], str] = str
    """Words for an error in a status line (the CLI gives ``confide.ui.texts.describe``)."""
    guesses: GuessBudget = field(init=False)

    def __post_init__(self) -> None:
        self.guesses = GuessBudget(retire=self.secret.code is not None)

    @property
    def full(self) -> bool:
        """Whether the room holds ``max_members`` with the host."""
        return self.members + 1 >= self.max_members

    def code_text(self) -> str | None:
        """The code that invites more people now (None for a password room)."""
        return None if self.secret.code is None else str(self.secret.code)

    @property
    def code(self) -> codes.Code | None:
        """The code joiners must give now (None for a password room)."""
        return self.secret.code

    def use_nameplate(self, nameplate: str) -> None:
        """Keep the code, and every code that replaces it, on ``nameplate`` (a relay's room)."""
        self.nameplate = nameplate
        if self.secret.code is not None:
            self.secret.code = dataclasses.replace(self.secret.code, nameplate=nameplate)

    def refusal(self, pending: int) -> Refusal | None:
        """Why a new connection is refused at once (``pending`` are in progress), or None."""
        if self.full:
            line = room_full(self.max_members)
            return Refusal(ALERT_ROOM_FULL, Line(line, line), self.max_members)
        if self.guesses.closed:
            return Refusal(ALERT_NO_GUESSES)
        if pending >= MAX_PENDING:
            return Refusal(ALERT_BUSY, Line(TOO_MANY, TOO_MANY))
        return None

    def arrival(self) -> Join:
        """A new connection's guess; the code is read when its hello arrives, not now."""
        return Join(self, self.guesses.attempt(lambda: (self.secret.room, self.secret.value)))

    def admit(self) -> Line | None:
        """A confirmed joiner's first message came: make it a member, or say why not."""
        if self.full:  # another joiner was admitted first
            line = room_full(self.max_members)
            return Line(line, line)
        self.members += 1
        return None

    def member_left(self) -> None:
        """A member left: its place is free for the next joiner."""
        self.members = max(0, self.members - 1)

    def failed(self, failure: Failure | None, peer: str, error: ConfideError) -> Failed:
        """What a failed join means; ``failure`` is its counted guess (None if it spent none)."""
        if failure is None:
            said = self.describe(error)
            if isinstance(error, NotPostQuantumError):  # --require-pq, before any guess
                return Failed((Line(f"refused a joiner from {peer}: {said}", NOT_PQ_REFUSED),))
            return Failed((Line(f"a join attempt from {peer} failed: {said}", _repeats(said)),))
        if isinstance(error, AuthenticationError):
            line = f"a join failed: wrong code or password ({failure.count}/{MAX_GUESSES})"
        else:
            line = (
                f"a join attempt from {peer} failed: {self.describe(error)} "
                f"(counted as a wrong guess: {failure.count}/{MAX_GUESSES})"
            )
        if failure.ended == RETIRED:
            self.secret.code = self.secret.new_code(self.randbelow, self.nameplate)
            return Failed((Line(line), Line(RETIRED_LINE)), new_code=self.secret.code)
        if failure.ended == CLOSED:
            return Failed((Line(line),), closed=PASSWORD_ROOM_CLOSED)
        return Failed((Line(line),))


class Join:
    """One connection's guess, and what the end of its handshake means (``Arrival``)."""

    def __init__(self, policy: RoomPolicy, attempt: Attempt) -> None:
        """Use ``RoomPolicy.arrival``."""
        self._policy = policy
        self._attempt = attempt

    @property
    def room(self) -> str:
        """The nameplate a joiner must name now ("" for a password room)."""
        return self._attempt.room

    def spend(self) -> bytes | None:
        """Spend this connection's guess; the secret to answer with, or None if none is left."""
        return self._attempt.spend()

    def answers(self) -> bool:
        """Whether this handshake may still confirm (its code was not retired since)."""
        return self._attempt.answers()

    def confirmed(self) -> None:
        """The handshake succeeded: its guess is given back."""
        self._attempt.settle(succeeded=True)

    def failed(self, peer: str, error: ConfideError) -> Failed:
        """The join failed: its guess (if still spent) counts; what that means."""
        return self._policy.failed(self._attempt.settle(succeeded=False), peer, error)


def room_full(max_members: int) -> str:
    """The host's line for a joiner refused because the room is full."""
    return f"refused a joiner: room full ({max_members} members)"


def _repeats(said: str) -> str:
    """The throttling key of an uncounted failure: its text with numbers and quotes blurred."""
    return f"a join attempt failed: {_VARYING.sub('…', said)}"
