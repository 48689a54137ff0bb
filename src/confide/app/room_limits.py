"""How many members a room holds, and how many messages may wait for one of them.

The numbers the CLI and a starting host need: kept apart from
``app.room_types`` and ``app.resumable`` so that ``confide --help`` can show
them, and a host reach its code line, without importing the message codec
and the record layer behind it.
"""

from __future__ import annotations

MAX_MEMBERS = 50
"""The most members a room can hold, the host included (``--max-members``)."""
DEFAULT_MEMBERS = 20
"""Members a room holds unless the host says otherwise."""
WAITING_MESSAGES = 10_000
"""Messages that may wait for one peer's acknowledgement unless told otherwise
(``app.resumable.OutboxLimits``, ``--max-waiting``)."""
