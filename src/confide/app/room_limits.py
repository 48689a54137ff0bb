"""How many members a room holds: the two numbers the CLI needs at start-up.

Kept apart from ``app.room_types`` so that ``confide --help`` can show them
without importing the message codec and the record layer behind it.
"""

from __future__ import annotations

MAX_MEMBERS = 50
"""The most members a room can hold, the host included (``--max-members``)."""
DEFAULT_MEMBERS = 20
"""Members a room holds unless the host says otherwise."""
