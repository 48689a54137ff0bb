"""The room's guess policy: how many failed joins a code or password answers.

Pure (no asyncio, no sockets): the room's policy (``app.room_policy``) gives
each connection an ``Attempt`` that its host ``Connection`` asks at the two
moments that matter, and tells it how the handshake ended. The whole rule is here.

**A code (or password) answers at most ``MAX_GUESSES`` handshakes that fail,
counting the ones still running.**

- A handshake *spends* one guess just before the host sends its CPace share:
  from then on the joiner can test one guess. ``spend`` refuses (``None``)
  when that would be a sixth spent guess, so the host refuses the joiner
  before it sends anything that depends on the secret.
- A handshake that succeeds gives its guess back (``refund``). One that fails
  for any reason after spending (wrong code, silence, a cut connection)
  keeps it (``fail``).
- When the fifth spent guess has failed, a generated code is retired (a new
  *generation*: the host makes a new code, with a fresh budget) and a
  password room is closed for good.
- A handshake may confirm only while the generation it spent on is current
  (``answers``), so nothing that began on an old code can succeed.

Guesses spent and failures are counted per generation; since a generation
ends only when all of its spent guesses have failed, none are left running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MAX_GUESSES = 5
"""Failed handshakes (counting running ones) a code or password answers."""

RETIRED, CLOSED = "retired", "closed"


@dataclass(frozen=True, slots=True)
class Failure:
    """What one failed guess did: the failures so far, and whether it ended the secret."""

    count: int
    ended: str | None = None  # RETIRED (a code) or CLOSED (a password room)


@dataclass(slots=True)
class GuessBudget:
    """The guesses a room's secret still answers (one per generation of it)."""

    retire: bool = True
    """True: a generated code, retired and replaced; False: a password, closed."""
    limit: int = MAX_GUESSES
    generation: int = 0
    failed: int = 0
    running: int = 0
    closed: bool = False

    @property
    def spent(self) -> int:
        """Guesses spent in this generation: failed ones plus running ones."""
        return self.failed + self.running

    def spend(self) -> int | None:
        """Take one guess; the generation it counts in, or ``None`` if none is left."""
        if self.closed or self.spent >= self.limit:
            return None
        self.running += 1
        return self.generation

    def answers(self, generation: int) -> bool:
        """Whether a guess spent in ``generation`` may still confirm."""
        return not self.closed and generation == self.generation

    def refund(self, generation: int) -> None:
        """A handshake that spent in ``generation`` succeeded: give its guess back."""
        if generation == self.generation and self.running:
            self.running -= 1

    def fail(self, generation: int) -> Failure | None:
        """A handshake that spent in ``generation`` failed; ``None`` if that generation is over."""
        if generation != self.generation or self.closed or not self.running:
            return None
        self.running -= 1
        self.failed += 1
        if self.failed < self.limit:
            return Failure(self.failed)
        if not self.retire:
            self.closed = True
            return Failure(self.failed, CLOSED)
        self.generation += 1
        self.failed = self.running = 0
        return Failure(self.limit, RETIRED)

    def attempt(self, current: Callable[[], tuple[str, bytes]]) -> Attempt:
        """One handshake's view of the budget; ``current()`` gives (nameplate, secret) now."""
        return Attempt(self, current)


class Attempt:
    """One handshake's guess: what a host ``Connection`` asks (``protocol.connection.Guesses``).

    The nameplate and secret are read when the joiner's hello arrives, not
    when the connection was accepted, so a code retired in between is never
    answered.
    """

    def __init__(self, budget: GuessBudget, current: Callable[[], tuple[str, bytes]]) -> None:
        """Use ``GuessBudget.attempt``."""
        self._budget = budget
        self._current = current
        self.generation: int | None = None

    @property
    def room(self) -> str:
        """The nameplate a joiner must name now ("" for a password room)."""
        return self._current()[0]

    def spend(self) -> bytes | None:
        """Spend this handshake's guess; the secret to answer with, or ``None`` if none is left."""
        if self.generation is not None:
            raise RuntimeError("a handshake spends one guess")
        self.generation = self._budget.spend()
        return None if self.generation is None else self._current()[1]

    def answers(self) -> bool:
        """Whether this handshake may still confirm (its code was not retired since)."""
        return self.generation is not None and self._budget.answers(self.generation)

    def settle(self, succeeded: bool) -> Failure | None:
        """The handshake ended: refund or count its guess (once); the failure, if one counted."""
        generation, self.generation = self.generation, None
        if generation is None:
            return None
        if succeeded:
            self._budget.refund(generation)
            return None
        return self._budget.fail(generation)
