"""Contacts: the identity keys we have seen and verified (TOFU, like SSH's known_hosts).

STUB: the contract for issue 14. The store helper fills in every body;
the names below are what the sessions and UIs code against.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KNOWN = "known"
"""The key is verified, under the nick it gives now."""
NEW = "new"
"""A key never verified, and no verified contact uses its nick."""
RENAMED = "renamed"
"""The key is verified under another nick (``verified_nick``)."""
CHANGED = "changed"
"""A verified contact uses this nick (``verified_nick``) with another key: the loud warning."""
NO_IDENTITY = "none"
"""The peer proved no identity (a confide older than protocol version 3)."""


@dataclass(frozen=True, slots=True)
class Recognition:
    """What the contacts say about a peer's key under the nick it gave."""

    kind: str
    """``KNOWN``, ``NEW``, ``RENAMED``, ``CHANGED`` or ``NO_IDENTITY``."""
    key: bytes
    """The peer's raw public key (``b""`` for ``NO_IDENTITY``)."""
    fingerprint: str
    """``protocol.identity.fingerprint(key)`` (``""`` for ``NO_IDENTITY``)."""
    verified_nick: str = ""
    """``RENAMED``: the nick the key was verified under; ``CHANGED``: the nick with another key."""


@dataclass(frozen=True, slots=True)
class Contact:
    """One key of the contacts file."""

    key: bytes
    nick: str
    """The nick it was verified under (or last seen under, if never verified)."""
    first_seen: float
    last_seen: float
    """Unix times (seconds)."""
    verified: bool


class Contacts:
    """The contacts file, loaded once; every change is written at once, atomically."""

    @classmethod
    def load(cls, path: Path) -> Contacts:
        """The contacts in ``path`` (none yet if it does not exist).

        ``ContactsError`` (a ``LocalError``, one plain line) if it is corrupt:
        confide never silently starts afresh over it.
        """
        raise NotImplementedError

    @classmethod
    def disabled(cls) -> Contacts:
        """``--no-identity``: recognises every key as ``NEW``, keeps and writes nothing."""
        raise NotImplementedError

    def recognise(self, key: bytes, nick: str, now: float) -> Recognition:
        """What ``key`` under ``nick`` is to us; records it as seen (first/last seen)."""
        raise NotImplementedError

    def verify(self, key: bytes, nick: str, now: float) -> None:
        """``/verify ok``: ``key`` is verified under ``nick`` from now on."""
        raise NotImplementedError

    def forget(self, key: bytes) -> bool:
        """``/verify forget``: drop ``key``; whether it was there."""
        raise NotImplementedError

    def forget_nick(self, nick: str) -> int:
        """``confide contacts forget NICK``: drop every key under ``nick``; how many."""
        raise NotImplementedError

    def is_verified(self, key: bytes) -> bool:
        """Whether ``key`` is a verified contact."""
        raise NotImplementedError

    def entries(self) -> list[Contact]:
        """Every contact, verified first, then by nick."""
        raise NotImplementedError
