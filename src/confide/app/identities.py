"""Who we are and whom we know, as a chat uses it: our identity key and the contacts.

How this works. ``app.run`` loads the user's Ed25519 key and contacts once
per command (``IdentityChoice.load``): the key file and ``contacts.json``
in the data folder (``app.identity_file``), another key file with
``--identity FILE``, or with ``--no-identity`` a throwaway key and contacts
that keep nothing. The private key goes to the network layer, which proves
it in every handshake of version 3 (``protocol.identity``); the rest is an
``Identities`` that the sessions use:

* ``recognise(key, nick)`` once per peer, when its key (``HandshakeComplete
  .identity``, or a room host's ``MemberKey``) and its nick are both known:
  what the contacts say (``KNOWN``, ``NEW``, ``RENAMED``, ``CHANGED``), or
  ``NO_IDENTITY`` for an older confide that proves none (key ``b""``);
* ``verify`` and ``forget`` for ``/verify ok`` and ``/verify forget``;
* ``is_verified`` for ``/who`` and for file offers;
* ``whoami`` for ``/whoami``.

``Meeting`` is what a confirmed handshake tells the session about the peer.
Times are the injected ``clock`` (Unix seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from confide.app.contacts import (
    CHANGED,
    KNOWN,
    NEW,
    NO_IDENTITY,
    RENAMED,
    Contact,
    Contacts,
    Recognition,
)
from confide.errors import LocalError
from confide.protocol.identity import IDENTITY_VERSION, fingerprint, public_bytes
from confide.protocol.nicks import same_nick

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from confide.protocol.events import HandshakeComplete


@dataclass(frozen=True, slots=True)
class Identities:
    """Our public key and the contacts, for the sessions of one command."""

    key: bytes
    """Our raw Ed25519 public key."""
    contacts: Contacts
    clock: Callable[[], float] = time.time

    @classmethod
    def of(cls, private: Ed25519PrivateKey, contacts: Contacts) -> Identities:
        """The identities of ``private`` with ``contacts``."""
        return cls(public_bytes(private), contacts)

    def whoami(self) -> str:
        """Our fingerprint (``confide id`` prints the same)."""
        return fingerprint(self.key)

    def recognise(self, key: bytes, nick: str) -> Recognition:
        """What ``key`` under ``nick`` is to us; ``b""`` (no identity proved): ``NO_IDENTITY``.

        A contacts file that can't be written now (a full disk, a read-only
        folder) does not end the chat: the key is then judged by the
        contacts as last read, and only its "last seen" is lost.
        """
        if not key:
            return Recognition(NO_IDENTITY, b"", "")
        try:
            return self.contacts.recognise(key, nick, self.clock())
        except LocalError:
            return _judged(self.contacts.entries(), key, nick)

    def verify(self, key: bytes, nick: str) -> None:
        """``/verify ok``: ``key`` is a verified contact under ``nick`` (no key: nothing)."""
        if key:
            self.contacts.verify(key, nick, self.clock())

    def forget(self, key: bytes) -> None:
        """``/verify forget``: ``key`` is no contact any more (no key: nothing)."""
        if key:
            self.contacts.forget(key)

    def is_verified(self, key: bytes) -> bool:
        """Whether ``key`` is a verified contact (``b""``: never)."""
        return bool(key) and self.contacts.is_verified(key)

    def view(self, key: bytes | None) -> tuple[str, bool | None]:
        """What ``/who`` shows of a key: its fingerprint and whether it is verified.

        No key (None or ``b""``): ``("", None)``.
        """
        if not key:
            return "", None
        return fingerprint(key), self.is_verified(key)


def _judged(entries: list[Contact], key: bytes, nick: str) -> Recognition:
    """The recognition rules of ``Contacts.recognise`` over ``entries``, recording nothing."""
    shown = fingerprint(key)
    seen = next((c for c in entries if c.key == key and c.verified), None)
    if seen is not None:
        if same_nick(seen.nick, nick):
            return Recognition(KNOWN, key, shown)
        return Recognition(RENAMED, key, shown, seen.nick)
    if any(c.verified and same_nick(c.nick, nick) for c in entries):
        return Recognition(CHANGED, key, shown, nick)
    return Recognition(NEW, key, shown)


def throwaway() -> Identities:
    """A throwaway key and contacts that keep nothing (``--no-identity``; tests)."""
    from confide.app.identity_file import throwaway_identity

    return Identities.of(throwaway_identity(), Contacts.disabled())


@dataclass(frozen=True, slots=True)
class IdentityChoice:
    """Which identity a command uses: the CLI's ``--identity FILE`` and ``--no-identity``.

    ``keep`` (the CLI's default): the user's key file (``path``, or the one in
    the data folder, made on first use) and contacts file. Not ``keep``
    (``--no-identity``, and the default of the option objects tests build): a
    throwaway key and no contacts, so nothing is written.
    """

    keep: bool = False
    path: Path | None = None

    def load(self) -> tuple[Ed25519PrivateKey, Identities]:
        """The private key to prove, and the ``Identities`` the sessions use.

        A key file that can't be read or a corrupt contacts file is a
        ``LocalError`` in one line, before anything connects.
        """
        from confide.app.identity_file import (
            default_contacts_path,
            load_identity,
            throwaway_identity,
        )

        if not self.keep:
            private = throwaway_identity()
            return private, Identities.of(private, Contacts.disabled())
        contacts = Contacts.load(default_contacts_path())
        private = load_identity(self.path)
        return private, Identities.of(private, contacts)


@dataclass(frozen=True, slots=True)
class Meeting:
    """What a confirmed handshake tells a joiner's session about its peer, and who we are."""

    sas: tuple[str, ...]
    peer_key: bytes
    """The key the peer proved (``b""``: an older confide, below version 3, proves none)."""
    me: Identities
    post_quantum: bool = True
    """Whether the session's keys rest on ML-KEM too (False: a peer below version 4)."""


def proved_key(done: HandshakeComplete) -> bytes:
    """The identity key a handshake proved (``b""`` below version 3)."""
    return done.identity if done.version >= IDENTITY_VERSION else b""
