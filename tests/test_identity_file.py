"""``app.identity_file``: where the key and contacts live, and making the key on first use.

The data folder follows ``XDG_DATA_HOME`` (set per test). The first load
makes a PKCS8 PEM Ed25519 key with mode 0600 in a 0700 folder (even with a
permissive umask); a second load gives the same key, and a key another
confide links into place first (a race) is the one used, with no temp file
left; without hard links the file is made in place. A file that is garbage,
another kind of key, an encrypted key or a folder is one ``LocalError`` line
naming it, and the file is left as it was. A throwaway key is written nowhere.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide.app.identity_file import (
    data_dir,
    default_contacts_path,
    default_identity_path,
    identity_at,
    load_identity,
    throwaway_identity,
)
from confide.errors import LocalError
from confide.protocol.identity import public_bytes


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


@pytest.fixture
def open_umask() -> Iterator[None]:
    before = os.umask(0)  # the most permissive: only the mode confide asks for protects the key
    try:
        yield
    finally:
        os.umask(before)


def test_the_files_live_in_the_data_folder(data_home: Path) -> None:
    assert data_dir() == data_home / "confide"
    assert default_identity_path() == data_home / "confide" / "identity.pem"
    assert default_contacts_path() == data_home / "confide" / "contacts.json"


@pytest.mark.usefixtures("open_umask")
def test_the_first_load_makes_a_private_key_file_and_the_second_reads_it(
    data_home: Path,
) -> None:
    first = identity_at(None)
    path = data_home / "confide" / "identity.pem"
    assert first.created
    assert first.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text(encoding="ascii")
    assert text.startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS8, unencrypted
    second = identity_at(None)
    assert not second.created
    assert public_bytes(second.key) == public_bytes(first.key)
    assert public_bytes(load_identity(None)) == public_bytes(first.key)
    assert path.read_text(encoding="ascii") == text


def test_another_file_is_made_and_used(tmp_path: Path, data_home: Path) -> None:
    chosen = tmp_path / "keys" / "work.pem"
    made = identity_at(chosen)
    assert made.created
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o600
    assert public_bytes(load_identity(chosen)) == public_bytes(made.key)
    assert not data_home.exists()  # the default file was never touched


def _pkcs8(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_a_key_made_elsewhere_is_read(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "mine.pem"
    path.write_bytes(_pkcs8(key))
    assert public_bytes(load_identity(path)) == public_bytes(key)


def _pem(kind: str) -> bytes:
    if kind == "garbage":
        return b"\x00\xffnot a key at all\n"
    if kind == "empty":
        return b""
    if kind == "ec":
        return generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    if kind == "public":
        public = Ed25519PrivateKey.generate().public_key()
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    assert kind == "encrypted"
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )


@pytest.mark.parametrize("kind", ["garbage", "empty", "ec", "public", "encrypted"])
def test_a_file_that_is_not_an_ed25519_key_is_one_line_and_kept(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "identity.pem"
    content = _pem(kind)
    path.write_bytes(content)
    with pytest.raises(LocalError) as caught:
        load_identity(path)
    message = str(caught.value)
    assert message == (
        f"identity file {path} is not an unencrypted Ed25519 private key (PEM): "
        "fix it, or give another file with --identity"
    )
    assert "\n" not in message
    assert caught.value.exit_code == 1
    assert path.read_bytes() == content


def test_an_unreadable_identity_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "identity.pem"
    path.mkdir()
    with pytest.raises(LocalError) as caught:
        load_identity(path)
    assert str(caught.value).startswith(f"cannot read identity file {path}: ")


def test_a_key_that_cannot_be_made_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "identity.pem"

    def refuse(*args: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(LocalError) as caught:
        load_identity(path)
    monkeypatch.undo()
    assert str(caught.value) == f"cannot create identity file {path}: Permission denied"
    assert not path.exists()


def test_a_key_that_cannot_be_written_leaves_no_half_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "identity.pem"

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(LocalError) as caught:
        load_identity(path)
    monkeypatch.undo()
    assert str(caught.value) == f"cannot create identity file {path}: No space left on device"
    assert list(tmp_path.iterdir()) == []


def test_a_key_made_by_another_confide_at_the_same_moment_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "identity.pem"
    theirs = Ed25519PrivateKey.generate()
    real_link = os.link

    def other_confide_first(src: str, dst: str) -> None:
        path.write_bytes(_pkcs8(theirs))  # it won the race, between our read and our link
        real_link(src, dst)

    monkeypatch.setattr(os, "link", other_confide_first)
    found = identity_at(path)
    monkeypatch.undo()
    assert not found.created
    assert public_bytes(found.key) == public_bytes(theirs)
    assert [p.name for p in tmp_path.iterdir()] == ["identity.pem"]  # no temp file left


def test_without_hard_links_the_key_is_made_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "identity.pem"

    def no_links(src: str, dst: str) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    made = identity_at(path)
    monkeypatch.undo()
    assert made.created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["identity.pem"]
    assert public_bytes(load_identity(path)) == public_bytes(made.key)


def test_a_throwaway_key_is_new_each_time_and_written_nowhere(
    tmp_path: Path, data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.iterdir())
    one, two = throwaway_identity(), throwaway_identity()
    assert public_bytes(one) != public_bytes(two)
    assert sorted(tmp_path.iterdir()) == before
    assert not data_home.exists()
