"""Where a host's status lines go: stderr until a session shows them, then its ``notice``.

The host's accept loop reports failed joins, new codes and refusals through
one ``StatusRoute``, made before anything listens; the room session
(``app.room_session``) points it at its ``notice`` while it runs. It lives
apart from the room session so that a host reaches its code line without
loading the session's modules.
"""

from __future__ import annotations

from collections.abc import Callable


class StatusRoute:
    """A status callback that goes to the running session's ``notice``, else to ``fallback``."""

    def __init__(self, fallback: Callable[[str], None]) -> None:
        """Status lines go to ``fallback`` (stderr) until a session takes them."""
        self.fallback = fallback
        self.target: Callable[[str], None] | None = None

    def __call__(self, text: str) -> None:
        """Show one status line where it belongs now."""
        (self.target or self.fallback)(text)
