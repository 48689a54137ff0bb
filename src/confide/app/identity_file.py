"""Where the identity key and the contacts live, and reading (or making) the key.

How this works: both files are in the platform's data folder
(``platformdirs.user_data_path("confide")``: ``$XDG_DATA_HOME/confide``,
else ``~/.local/share/confide`` on Linux; ``~/Library/Application
Support/confide`` on macOS; ``%LOCALAPPDATA%\\confide`` on Windows).

- ``identity.pem``: the user's Ed25519 private key, PKCS8 PEM, unencrypted
  (like an SSH key without a passphrase: the file's mode is what protects
  it). ``--identity FILE`` names another file.
- ``contacts.json``: ``app.contacts``.

``identity_at(path)`` loads the key, or creates it on first use: the folder
with mode 0700, the file with ``O_CREAT | O_EXCL`` and mode 0600 (written
whole, then linked into place: ``_create``), so an existing key is never
written over, a key is never readable by others, not even for a moment, and
no one ever reads half a key. A file that cannot be read, or that holds anything
but an unencrypted Ed25519 private key, is a ``LocalError``: one line naming
the file (it is never replaced by a new key: that would change who you are
to every contact). ``throwaway_identity()`` is the key of ``--no-identity``:
a new one each run, never written anywhere.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide.errors import LocalError

APP_NAME = "confide"
IDENTITY_FILE = "identity.pem"
CONTACTS_FILE = "contacts.json"


@dataclass(frozen=True, slots=True)
class StoredIdentity:
    """An identity key and the file it is kept in."""

    key: Ed25519PrivateKey
    path: Path
    created: bool
    """Whether this run made the key (first use): worth telling the user."""


def data_dir() -> Path:
    """The platform's data folder for confide (it may not exist yet)."""
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def default_identity_path() -> Path:
    """Where the identity key is kept when there is no ``--identity FILE``."""
    return data_dir() / IDENTITY_FILE


def default_contacts_path() -> Path:
    """Where the contacts file is kept."""
    return data_dir() / CONTACTS_FILE


def load_identity(path: Path | None) -> Ed25519PrivateKey:
    """The identity key in ``path`` (None: the default file), made on first use."""
    return identity_at(path).key


def identity_at(path: Path | None) -> StoredIdentity:
    """The identity key in ``path`` (None: the default file) and whether it was just made.

    ``LocalError`` (one line naming the file) if it cannot be read or made,
    or holds anything but an unencrypted Ed25519 private key.
    """
    path = default_identity_path() if path is None else path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        made = _create(path)
        if made is not None:
            return StoredIdentity(made, path, created=True)
        raw = _read(path)  # another confide made it first
    except OSError as exc:
        raise _unreadable(path, exc) from None
    return StoredIdentity(_parse(raw, path), path, created=False)


def throwaway_identity() -> Ed25519PrivateKey:
    """``--no-identity``: a new key for this run only, written nowhere."""
    return Ed25519PrivateKey.generate()


def _create(path: Path) -> Ed25519PrivateKey | None:
    """Make a key in ``path`` (folder 0700, file 0600); None if the file exists already.

    The key is written whole to a temporary file made with ``O_CREAT |
    O_EXCL`` and mode 0600 (``mkstemp``), flushed to disk, then hard-linked
    to ``path``, which fails if ``path`` exists: an existing key is never
    written over, and a second confide starting at the same moment reads a
    whole key, never half of one. Where the file system has no hard links,
    ``path`` itself is made with ``O_CREAT | O_EXCL``.
    """
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _cannot_create(path, exc) from None
    try:
        _write_all(fd, pem)
        try:
            os.link(temp, path)
        except FileExistsError:
            return None  # another confide made it first
        except OSError:  # no hard links here
            if not _create_in_place(path, pem):
                return None
    except OSError as exc:
        raise _cannot_create(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    return key


def _create_in_place(path: Path, pem: bytes) -> bool:
    """Write ``pem`` to a new ``path`` (``O_CREAT | O_EXCL``, 0600); False if it exists."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return False
    try:
        _write_all(fd, pem)
    except OSError:
        with contextlib.suppress(OSError):
            path.unlink()  # never leave half a key behind
        raise
    return True


def _write_all(fd: int, data: bytes) -> None:
    """Write ``data`` to ``fd``, flush it to disk and close it."""
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _parse(raw: bytes, path: Path) -> Ed25519PrivateKey:
    """The key in a PEM file's bytes, or a one-line ``LocalError`` naming ``path``."""
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise LocalError(
            f"identity file {path} is not an unencrypted Ed25519 private key (PEM): "
            "fix it, or give another file with --identity"
        )
    return key


def _cannot_create(path: Path, exc: OSError) -> LocalError:
    return LocalError(f"cannot create identity file {path}: {_why(exc)}")


def _unreadable(path: Path, exc: OSError) -> LocalError:
    return LocalError(f"cannot read identity file {path}: {_why(exc)}")


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
