"""The host's side of identity keys in a room: what it knows of each member's key.

How this works. Each confirmed member comes with the key it proved in its
handshake (``NewMember.key``); ``RoomSession`` gives it to the hub
(``RoomHub.add(..., key=)``, only when the session has identities: then the
hub passes it on to the other members as ``MemberKey``). ``HostKeys`` reads
those keys back from the hub and answers the session with the contacts
(``app.identities.Identities``): what they make of a member's key as it
joins (``recognised``: a ``PeerIdentity``, once), what ``/who`` shows
(``view``), ``/verify ok`` and ``forget`` (``mark``), and whether a member
is a verified contact (``verified``, for file offers). Without identities
(tests, the bench) it answers nothing and marks nothing.
"""

from __future__ import annotations

from confide.app.events import AppEvent, PeerIdentity
from confide.app.identities import Identities
from confide.app.room import RoomHub
from confide.app.room_types import HOST_ID


class HostKeys:
    """The members' keys as the hub holds them, and our contacts' view of them."""

    def __init__(self, hub: RoomHub, me: Identities | None) -> None:
        """Keys held by ``hub``; ``me`` recognises them (None: no identities)."""
        self.hub = hub
        self.me = me

    def for_hub(self, key: bytes | None) -> bytes | None:
        """The key the hub keeps and passes on (None when there are no identities)."""
        return key if self.me is not None else None

    def whoami(self) -> str:
        """Our fingerprint (``""``: no identity)."""
        return self.me.whoami() if self.me is not None else ""

    def view(self, mid: int) -> tuple[str, bool | None]:
        """``/who``: member ``mid``'s fingerprint and whether we verified it (ours for us)."""
        if self.me is None:
            return "", None
        if mid == HOST_ID:
            return self.me.whoami(), None
        return self.me.view(self.hub.key_of(mid))

    def recognised(self, nick: str) -> list[AppEvent]:
        """What the contacts say of the key of ``nick``, who joins now (none: no key known)."""
        mid = self.hub.member_id(nick)
        key = self.hub.key_of(mid) if mid is not None else None
        if self.me is None or key is None:
            return []
        return [PeerIdentity(nick, self.me.recognise(key, nick))]

    def mark(self, mid: int, nick: str, ok: bool) -> None:
        """``/verify ok``: member ``mid``'s key is a verified contact; ``forget``: it is none."""
        key = self.hub.key_of(mid)
        if self.me is None or not key:
            return
        if ok:
            self.me.verify(key, nick)
        else:
            self.me.forget(key)

    def verified(self, mid: int) -> bool | None:
        """Whether member ``mid``'s key is a verified contact (None: no identities)."""
        if self.me is None:
            return None
        return self.me.is_verified(self.hub.key_of(mid) or b"")
