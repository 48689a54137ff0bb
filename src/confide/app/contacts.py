"""Contacts: the identity keys we have seen and verified (TOFU, like SSH's known_hosts).

How this works: ``Contacts.load(path)`` reads the contacts file once (none
yet if it does not exist) into a table keyed by the raw Ed25519 public key.
``recognise(key, nick, now)`` says what a peer's key is to us, by the rules
below, and records it as seen; ``verify`` (``/verify ok``) marks a key
verified under a nick; ``forget``/``forget_nick`` drop keys. Each change
holds an exclusive lock on ``contacts.json.lock`` beside the file (``flock``;
where the platform has none, no lock), reads the file again (another
confide, a second chat open at the same time, may have changed it: its
change is kept, not written over) and writes it at once, atomically, before
it lets go: two confides changing contacts at once take turns. The clock
is the caller's (``now``, Unix seconds), so the rules are unit-testable
without waiting.

Recognition rules:

- the key is verified: ``KNOWN`` under the nick it was verified under
  (compared as ``nicks.same_nick`` does: case and compatibility forms
  ignored), else ``RENAMED`` (``verified_nick`` = the nick it was verified
  under);
- else, another key is verified under this nick: ``CHANGED``, the loud
  warning (``verified_nick`` = the nick);
- else ``NEW``.

The file (docs/SECURITY.md, "Identities")::

    {"version": 1, "contacts": [{"key": "<64 hex digits>", "nick": "bob",
      "first_seen": 1764900000.0, "last_seen": 1764900000.0, "verified": true}]}

It is written to a temporary file in the same folder, fsynced, renamed
over the old one, and the folder fsynced: a crash leaves the old file or
the new one, whole. It has mode 0600 (its folder 0700 when confide makes
it). A file that is not this shape is a ``ContactsError``, one line naming
it, and is never overwritten: confide never silently starts afresh.
``Contacts.disabled()`` (``--no-identity``) keeps and writes nothing.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeGuard

try:
    import fcntl
except ImportError:  # Windows: no flock; changes are still atomic, only not serialised
    fcntl = None  # type: ignore[assignment]

from confide.errors import ContactsError
from confide.protocol import nicks
from confide.protocol.identity import KEY_SIZE, fingerprint

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

FILE_VERSION = 1
"""The ``version`` of the contacts file this confide reads and writes."""


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

    def __init__(self, path: Path | None, contacts: list[Contact]) -> None:
        """``contacts`` as read from ``path``; ``path`` None keeps and writes nothing."""
        self.path = path
        self._by_key: dict[bytes, Contact] = {c.key: c for c in contacts}

    @classmethod
    def load(cls, path: Path) -> Contacts:
        """The contacts in ``path`` (none yet if it does not exist).

        ``ContactsError`` (a ``LocalError``, one plain line) if it is corrupt:
        confide never silently starts afresh over it.
        """
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path, [])
        except OSError as exc:
            raise ContactsError(f"cannot read contacts file {path}: {_why(exc)}") from None
        return cls(path, parse(raw, path))

    @classmethod
    def disabled(cls) -> Contacts:
        """``--no-identity``: recognises every key as ``NEW``, keeps and writes nothing."""
        return cls(None, [])

    @property
    def enabled(self) -> bool:
        """Whether this keeps contacts (False for ``disabled()``)."""
        return self.path is not None

    def recognise(self, key: bytes, nick: str, now: float) -> Recognition:
        """What ``key`` under ``nick`` is to us; records it as seen (first/last seen)."""
        shown = fingerprint(key)
        if self.path is None:
            return Recognition(NEW, key, shown)
        with self._changing():
            seen = self._by_key.get(key)
            if seen is not None and seen.verified:
                kind = KNOWN if nicks.same_nick(seen.nick, nick) else RENAMED
                found = Recognition(kind, key, shown, "" if kind == KNOWN else seen.nick)
            elif self._verified_under(nick, other_than=key):
                found = Recognition(CHANGED, key, shown, nick)
            else:
                found = Recognition(NEW, key, shown)
            if seen is None:
                self._by_key[key] = Contact(key, nick, now, now, verified=False)
            else:
                self._by_key[key] = replace(
                    seen, last_seen=now, nick=seen.nick if seen.verified else nick
                )
        return found

    def verify(self, key: bytes, nick: str, now: float) -> None:
        """``/verify ok``: ``key`` is verified under ``nick`` from now on.

        Any other key verified under the same nick is verified no longer: the
        user has just compared the SAS with this one.
        """
        if self.path is None:
            return
        with self._changing():
            for other in self._verified_under(nick, other_than=key):
                self._by_key[other.key] = replace(other, verified=False)
            seen = self._by_key.get(key)
            first = now if seen is None else seen.first_seen
            self._by_key[key] = Contact(key, nick, first, now, verified=True)

    def forget(self, key: bytes) -> bool:
        """``/verify forget``: drop ``key``; whether it was there."""
        if self.path is None:
            return False
        with self._changing():
            return self._by_key.pop(key, None) is not None

    def forget_nick(self, nick: str) -> int:
        """``confide contacts forget NICK``: drop every key under ``nick``; how many."""
        if self.path is None:
            return 0
        with self._changing():
            gone = [c.key for c in self._by_key.values() if nicks.same_nick(c.nick, nick)]
            for key in gone:
                del self._by_key[key]
        return len(gone)

    def is_verified(self, key: bytes) -> bool:
        """Whether ``key`` is a verified contact."""
        seen = self._by_key.get(key)
        return seen is not None and seen.verified

    def entries(self) -> list[Contact]:
        """Every contact, verified first, then by nick."""
        return sorted(
            self._by_key.values(), key=lambda c: (not c.verified, c.nick.casefold(), c.key)
        )

    def _verified_under(self, nick: str, *, other_than: bytes) -> list[Contact]:
        return [
            c
            for c in self._by_key.values()
            if c.verified and c.key != other_than and nicks.same_nick(c.nick, nick)
        ]

    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """Lock the file, read it again, let the caller change the table, then write it.

        Another confide may have changed the file since we read it; the lock
        keeps a change of theirs and one of ours from being made at once (the
        last writer would drop the other's). If the caller raises, nothing is
        written. Only a table that changed is written.
        """
        assert self.path is not None
        with _locked(self.path):
            self._by_key = {c.key: c for c in Contacts.load(self.path).entries()}
            before = dict(self._by_key)
            yield
            if self._by_key != before:
                write_atomically(self.path, render(self.entries()))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``'s ``.lock`` file (made 0600) while inside."""
    if fcntl is None:
        yield
        return
    lock = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ContactsError(f"cannot lock contacts file {path}: {_why(exc)}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def render(contacts: list[Contact]) -> bytes:
    """The contacts file's bytes for ``contacts`` (JSON, one contact a line)."""
    rows = [
        json.dumps(
            {
                "key": c.key.hex(),
                "nick": c.nick,
                "first_seen": c.first_seen,
                "last_seen": c.last_seen,
                "verified": c.verified,
            },
            ensure_ascii=False,
        )
        for c in contacts
    ]
    body = ",\n    ".join(rows)
    inner = f"\n    {body}\n  " if rows else ""
    return f'{{\n  "version": {FILE_VERSION},\n  "contacts": [{inner}]\n}}\n'.encode()


def parse(raw: bytes, path: Path) -> list[Contact]:
    """The contacts in a file's bytes; ``ContactsError`` naming ``path`` if it is corrupt."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _corrupt(path, "not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("contacts"), list):
        raise _corrupt(path, 'not an object with a "contacts" list')
    if data.get("version") != FILE_VERSION:
        raise _corrupt(path, f"version {data.get('version')!r}, not {FILE_VERSION}")
    found: dict[bytes, Contact] = {}
    for number, entry in enumerate(data["contacts"], 1):
        contact = _contact(entry)
        if isinstance(contact, str):
            raise _corrupt(path, f"contact {number}: {contact}")
        if contact.key in found:
            raise _corrupt(path, f"contact {number}: the same key twice")
        found[contact.key] = contact
    return list(found.values())


def _contact(entry: Any) -> Contact | str:
    """One contact from its JSON object, or what is wrong with it."""
    if not isinstance(entry, dict):
        return "not an object"
    key_text, nick = entry.get("key"), entry.get("nick")
    if not isinstance(key_text, str):
        return "no key"
    try:
        key = bytes.fromhex(key_text)
    except ValueError:
        return "the key is not hex"
    if len(key) != KEY_SIZE:
        return f"the key is not {KEY_SIZE} bytes"
    if not isinstance(nick, str) or not nick:
        return "no nick"
    first, last = entry.get("first_seen"), entry.get("last_seen")
    if not (_is_time(first) and _is_time(last)):
        return "a bad first_seen or last_seen"
    verified = entry.get("verified")
    if not isinstance(verified, bool):
        return "verified is not true or false"
    return Contact(key, nick, float(first), float(last), verified)


def _is_time(value: object) -> TypeGuard[float]:
    """A Unix time as JSON gives it: a finite number, not a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file, fsync, rename, fsync the folder; mode 0600.

    A failure at any step leaves the old file whole and no temp file behind
    (``ContactsError``, one line).
    """
    folder = path.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ContactsError(f"cannot write contacts file {path}: {_why(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as out:  # mkstemp made it 0600
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise ContactsError(f"cannot write contacts file {path}: {_why(exc)}") from None
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    """fsync ``folder`` so the rename itself survives a crash (a no-op where unsupported)."""
    if os.name == "nt":  # Windows opens no folder for fsync; its renames are journaled
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _corrupt(path: Path, why: str) -> ContactsError:
    return ContactsError(f"contacts file {path} is corrupt ({why}): fix or remove it")


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
