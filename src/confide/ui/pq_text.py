"""What both interfaces say of a session that is not post-quantum (``NotPostQuantum``).

How this works. A session with a peer whose confide is older (protocol
version below 4) has no ML-KEM step: its keys rest on X25519 alone, so a
recording of it could be decrypted by whoever later has a quantum computer
(docs/SECURITY.md). The session emits ``NotPostQuantum`` just before it
announces that peer; both UIs then say ``not post-quantum``: line mode in
its ``connected to`` line (or a line after a member's ``joined``), the
full-screen UI in the status bar and as a system line, and ``/who`` for
each member we share a session with. A post-quantum session shows nothing
extra: it is the normal case.
"""

from __future__ import annotations

NOT_PQ = "not post-quantum"
"""The words, as the status bar and ``/who`` show them."""


def connected_line(peer: str, *, post_quantum: bool) -> str:
    """Line mode's ``connected to`` status line for ``peer``."""
    if post_quantum:
        return f"connected to {peer} (end-to-end encrypted)"
    return f"connected to {peer} (end-to-end encrypted, {NOT_PQ}: an older confide)"


def member_line(nick: str) -> str:
    """The line after a member's ``joined`` when our session with it is not post-quantum."""
    return f"{nick}: {NOT_PQ} (an older confide: classical keys only)"
