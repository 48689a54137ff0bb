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
with mode 0700, the file with ``O_CREAT | O_EXCL`` and mode 0600, so an
existing key is never written over and the key is never readable by others,
not even for a moment. A file that cannot be read, or that holds anything
but an unencrypted Ed25519 private key, is a ``LocalError``: one line naming
the file (it is never replaced by a new key: that would change who you are
to every contact). ``throwaway_identity()`` is the key of ``--no-identity``:
a new one each run, never written anywhere.
"""

from __future__ import annotations

import contextlib
import os
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
    """Make a key in ``path`` (folder 0700, file 0600); None if the file exists already."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return None
    except OSError as exc:
        raise LocalError(f"cannot create identity file {path}: {_why(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            path.unlink()  # never leave half a key behind
        raise LocalError(f"cannot create identity file {path}: {_why(exc)}") from None
    return key


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


def _unreadable(path: Path, exc: OSError) -> LocalError:
    return LocalError(f"cannot read identity file {path}: {_why(exc)}")


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
