"""A host's resumable sessions: the ticket book a resume handshake consults.

Each session a host keeps open for resuming is an ``Entry``: its committed
resume secret ``R``, the pending secrets it offered since, and ``adopt``,
what to do with a channel that resumed it (the integration hands it to the
session's ``ResumableLink``). The book indexes every valid ticket
(``ticket_id`` of a secret) to its entry.

The ticket rules (docs/PROTOCOL.md §10.3), which make a ticket work once
and lose no session to a cut in the middle of a resume:

* ``lookup(tid)``: the secret of a valid ticket: the committed one, or a
  pending one.
* ``offer(tid, R')``: the host ``Connection`` answered ``tid`` with a
  ``resumed``; ``R'`` becomes valid as a pending ticket of the same entry
  (at most ``MAX_PENDING``, the oldest dropped first). Nothing else changes:
  a stolen or replayed ticket gets a ``resumed`` it can do nothing with.
* ``arrived(tid, channel, R')``: the joiner's ``proof`` was verified. If
  ``tid`` is still valid, ``R'`` becomes the entry's only ticket (``R`` and
  every other pending ticket are forgotten) and ``adopt(channel, R')`` is
  called; if not (another resume of the same ticket won), nothing changes
  and the caller closes the channel.

Pure bookkeeping, no I/O and no clock: the host's ``Host.handle`` runs the
handshake and calls ``arrived``; the session calls ``forget`` when it ends.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from confide.net.channel import Channel
from confide.protocol.resume import ticket_id

MAX_PENDING = 8
"""Pending tickets an entry keeps (offered, not yet proved); the oldest goes first."""

Adopt = Callable[[Channel, bytes], None]
"""What a session does with a channel that resumed it, and its next resume secret."""


@dataclass(eq=False, slots=True)
class Entry:
    """One resumable session of a host."""

    secret: bytes
    """The committed resume secret: the last one a verified ``proof`` made."""
    adopt: Adopt
    pending: OrderedDict[bytes, bytes] = field(default_factory=OrderedDict)
    """Offered secrets by ticket, oldest first."""
    resumes: int = 0
    """How many resumes this session went through."""

    def tickets(self) -> list[bytes]:
        """Every ticket valid for this session now."""
        return [ticket_id(self.secret), *self.pending]


@dataclass(slots=True)
class ResumeBook:
    """Every resumable session of one host, by ticket (a ``connection.Resumes``)."""

    _by_ticket: dict[bytes, tuple[Entry, bytes]] = field(default_factory=dict)

    def register(self, secret: bytes, adopt: Adopt) -> Entry:
        """Keep a new session resumable under ``secret`` (its ``conn.resume_key``)."""
        entry = Entry(secret, adopt)
        self._by_ticket[ticket_id(secret)] = (entry, secret)
        return entry

    def lookup(self, ticket: bytes) -> bytes | None:
        """The secret ``ticket`` names now, or ``None``."""
        found = self._by_ticket.get(ticket)
        return None if found is None else found[1]

    def offer(self, ticket: bytes, new_secret: bytes) -> None:
        """``new_secret`` (answered to ``ticket``) is valid as a pending ticket now."""
        found = self._by_ticket.get(ticket)
        if found is None:
            return
        entry = found[0]
        new_ticket = ticket_id(new_secret)
        entry.pending[new_ticket] = new_secret
        self._by_ticket[new_ticket] = (entry, new_secret)
        while len(entry.pending) > MAX_PENDING:
            oldest, _ = entry.pending.popitem(last=False)
            self._by_ticket.pop(oldest, None)

    def arrived(self, ticket: bytes, channel: Channel, new_secret: bytes) -> bool:
        """A resume with ``ticket`` completed: commit ``new_secret`` and adopt the channel.

        False (and nothing changes) if ``ticket`` is no longer valid: another
        resume of it completed first, or the session was forgotten.
        """
        found = self._by_ticket.get(ticket)
        if found is None or found[0].pending.get(ticket_id(new_secret)) != new_secret:
            return False
        entry = found[0]
        self._drop(entry)
        entry.secret = new_secret
        entry.pending.clear()
        entry.resumes += 1
        self._by_ticket[ticket_id(new_secret)] = (entry, new_secret)
        entry.adopt(channel, new_secret)
        return True

    def forget(self, entry: Entry) -> None:
        """The session ended: none of its tickets resumes it any more."""
        self._drop(entry)
        entry.pending.clear()

    def _drop(self, entry: Entry) -> None:
        for ticket in entry.tickets():
            found = self._by_ticket.get(ticket)
            if found is not None and found[0] is entry:
                del self._by_ticket[ticket]

    def __len__(self) -> int:
        """How many sessions are resumable."""
        return len({id(entry) for entry, _ in self._by_ticket.values()})
