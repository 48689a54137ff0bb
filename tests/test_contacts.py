"""``app.contacts``: the recognition rules, and the contacts file on disk.

The rules (KNOWN, NEW, RENAMED, CHANGED; ``verify`` un-verifies the nick's
old key; ``forget``, ``forget_nick``) run on a real file in ``tmp_path``
and are checked both in memory and after loading the file again; two
``Contacts`` open on one file keep each other's changes. The file:
mode 0600, an atomic write (a failed rename leaves the old file whole and
no temp file), a corrupt file (garbage, the wrong JSON shape, bad hex, ...)
is a one-line ``ContactsError`` naming it and is never overwritten, and
``disabled()`` writes nothing.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from confide.app.contacts import (
    CHANGED,
    KNOWN,
    NEW,
    RENAMED,
    Contact,
    Contacts,
    Recognition,
)
from confide.errors import ContactsError, LocalError
from confide.protocol.identity import fingerprint

ALICE = bytes([1]) * 32
BOB = bytes([2]) * 32
MALLORY = bytes([3]) * 32


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "contacts.json"


def _reloaded(path: Path) -> Contacts:
    return Contacts.load(path)


def test_a_missing_file_is_no_contacts_and_is_not_created_by_loading(path: Path) -> None:
    book = Contacts.load(path)
    assert book.entries() == []
    assert not path.exists()


def test_a_first_key_is_new_and_recorded_as_seen(path: Path) -> None:
    book = Contacts.load(path)
    assert book.recognise(BOB, "bob", 100.0) == Recognition(NEW, BOB, fingerprint(BOB))
    assert _reloaded(path).entries() == [Contact(BOB, "bob", 100.0, 100.0, verified=False)]
    assert not book.is_verified(BOB)


def test_seen_again_keeps_first_seen_and_follows_the_latest_nick(path: Path) -> None:
    book = Contacts.load(path)
    book.recognise(BOB, "bob", 100.0)
    assert book.recognise(BOB, "robert", 200.0).kind == NEW
    assert _reloaded(path).entries() == [Contact(BOB, "robert", 100.0, 200.0, verified=False)]


def test_a_verified_key_under_its_nick_is_known(path: Path) -> None:
    book = Contacts.load(path)
    book.recognise(BOB, "bob", 100.0)
    book.verify(BOB, "bob", 150.0)
    assert book.is_verified(BOB)
    again = _reloaded(path)
    assert again.is_verified(BOB)
    assert again.recognise(BOB, "bob", 300.0) == Recognition(KNOWN, BOB, fingerprint(BOB))
    assert again.recognise(BOB, "Bob", 310.0).kind == KNOWN  # same_nick: case ignored
    assert _reloaded(path).entries() == [Contact(BOB, "bob", 100.0, 310.0, verified=True)]


def test_a_verified_key_under_another_nick_is_renamed(path: Path) -> None:
    book = Contacts.load(path)
    book.verify(ALICE, "carol", 100.0)
    found = book.recognise(ALICE, "bob", 200.0)
    assert found == Recognition(RENAMED, ALICE, fingerprint(ALICE), verified_nick="carol")
    # the nick it was verified under stays: a renamed contact is still "carol"
    assert _reloaded(path).entries() == [Contact(ALICE, "carol", 100.0, 200.0, verified=True)]


def test_another_key_under_a_verified_nick_is_changed(path: Path) -> None:
    book = Contacts.load(path)
    book.verify(BOB, "bob", 100.0)
    found = _reloaded(path).recognise(MALLORY, "bob", 200.0)
    assert found == Recognition(CHANGED, MALLORY, fingerprint(MALLORY), verified_nick="bob")
    assert Contacts.load(path).recognise(MALLORY, "BOB", 210.0).kind == CHANGED
    again = _reloaded(path)
    assert again.is_verified(BOB)  # the warning changes nothing verified
    assert not again.is_verified(MALLORY)
    assert again.recognise(BOB, "bob", 300.0).kind == KNOWN


def test_an_unverified_key_under_a_nick_is_no_warning(path: Path) -> None:
    book = Contacts.load(path)
    book.recognise(BOB, "bob", 100.0)  # seen, never verified
    assert book.recognise(MALLORY, "bob", 200.0).kind == NEW


def test_verify_unverifies_the_old_key_of_the_nick(path: Path) -> None:
    book = Contacts.load(path)
    book.verify(BOB, "bob", 100.0)
    assert book.recognise(MALLORY, "bob", 200.0).kind == CHANGED
    book.verify(MALLORY, "bob", 250.0)  # the SAS compared again, with the new key
    again = _reloaded(path)
    assert not again.is_verified(BOB)
    assert again.is_verified(MALLORY)
    assert again.recognise(MALLORY, "bob", 300.0).kind == KNOWN
    assert again.recognise(BOB, "bob", 310.0).kind == CHANGED
    assert again.entries()[0] == Contact(MALLORY, "bob", 200.0, 300.0, verified=True)


def test_verify_under_a_new_nick_keeps_other_nicks_verified(path: Path) -> None:
    book = Contacts.load(path)
    book.verify(ALICE, "alice", 100.0)
    book.verify(BOB, "bob", 100.0)
    book.verify(BOB, "robert", 200.0)
    again = _reloaded(path)
    assert again.is_verified(ALICE)
    assert again.recognise(BOB, "robert", 300.0).kind == KNOWN


def test_forget_drops_one_key(path: Path) -> None:
    book = Contacts.load(path)
    book.verify(BOB, "bob", 100.0)
    book.verify(ALICE, "alice", 100.0)
    assert book.forget(BOB)
    assert not book.forget(BOB)
    again = _reloaded(path)
    assert [c.key for c in again.entries()] == [ALICE]
    assert again.recognise(BOB, "bob", 200.0).kind == NEW


def test_forget_nick_drops_every_key_under_it(path: Path) -> None:
    book = Contacts.load(path)
    book.verify(BOB, "bob", 100.0)
    book.recognise(MALLORY, "Bob", 200.0)
    book.verify(ALICE, "alice", 100.0)
    assert book.forget_nick("bob") == 2
    assert book.forget_nick("bob") == 0
    assert [c.nick for c in _reloaded(path).entries()] == ["alice"]


def test_two_open_contacts_keep_each_others_changes(path: Path) -> None:
    first, second = Contacts.load(path), Contacts.load(path)  # two chats open at once
    first.verify(BOB, "bob", 100.0)
    assert second.recognise(ALICE, "alice", 200.0).kind == NEW  # written after first's
    assert second.recognise(BOB, "bob", 210.0).kind == KNOWN
    first.verify(ALICE, "alice", 300.0)
    assert second.forget(BOB)
    again = _reloaded(path)
    assert [(c.key, c.verified) for c in again.entries()] == [(ALICE, True)]


def test_entries_are_verified_first_then_by_nick(path: Path) -> None:
    book = Contacts.load(path)
    book.recognise(ALICE, "aaron", 1.0)
    book.verify(BOB, "zoe", 1.0)
    book.verify(MALLORY, "Mallory", 1.0)
    assert [c.nick for c in book.entries()] == ["Mallory", "zoe", "aaron"]


def test_the_file_has_mode_0600_and_the_documented_shape(path: Path) -> None:
    book = Contacts.load(path)
    book.verify(BOB, "bob", 100.5)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "version": 1,
        "contacts": [
            {
                "key": BOB.hex(),
                "nick": "bob",
                "first_seen": 100.5,
                "last_seen": 100.5,
                "verified": True,
            }
        ],
    }
    path.chmod(0o644)  # loosened by hand: the next write makes it 0600 again
    book.recognise(ALICE, "alice", 200.0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_rename_leaves_the_old_file_whole_and_no_temp_file(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = Contacts.load(path)
    book.verify(BOB, "bob", 100.0)
    before = path.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(ContactsError) as caught:
        book.verify(ALICE, "alice", 200.0)
    monkeypatch.undo()
    assert str(caught.value) == f"cannot write contacts file {path}: No space left on device"
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == ["contacts.json", "contacts.json.lock"]
    assert [c.key for c in Contacts.load(path).entries()] == [BOB]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x00\xffgarbage", "not JSON"),
        (b"", "not JSON"),
        (b"{not json", "not JSON"),
        (b"[]", 'not an object with a "contacts" list'),
        (b'{"version": 1, "contacts": {}}', 'not an object with a "contacts" list'),
        (b'{"version": 2, "contacts": []}', "version 2, not 1"),
        (b'{"contacts": []}', "version None, not 1"),
        (b'{"version": 1, "contacts": [7]}', "contact 1: not an object"),
        (
            b'{"version": 1, "contacts": [{"key": "zz", "nick": "bob", "first_seen": 1,'
            b' "last_seen": 1, "verified": true}]}',
            "contact 1: the key is not hex",
        ),
        (
            b'{"version": 1, "contacts": [{"key": "abcd", "nick": "bob", "first_seen": 1,'
            b' "last_seen": 1, "verified": true}]}',
            "contact 1: the key is not 32 bytes",
        ),
        (
            b'{"version": 1, "contacts": [{"key": "' + BOB.hex().encode() + b'", "nick": "bob",'
            b' "first_seen": "yesterday", "last_seen": 1, "verified": true}]}',
            "contact 1: a bad first_seen or last_seen",
        ),
        (
            b'{"version": 1, "contacts": [{"key": "' + BOB.hex().encode() + b'", "nick": "bob",'
            b' "first_seen": 1, "last_seen": 1, "verified": "yes"}]}',
            "contact 1: verified is not true or false",
        ),
        (
            b'{"version": 1, "contacts": [{"key": "' + BOB.hex().encode() + b'", "nick": 5,'
            b' "first_seen": 1, "last_seen": 1, "verified": true}]}',
            "contact 1: no nick",
        ),
    ],
    ids=[
        "garbage",
        "empty",
        "truncated",
        "a list",
        "contacts not a list",
        "newer version",
        "no version",
        "contact not an object",
        "bad hex",
        "short key",
        "bad time",
        "bad verified",
        "bad nick",
    ],
)
def test_a_corrupt_file_is_one_line_and_never_overwritten(
    path: Path, content: bytes, why: str
) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(ContactsError) as caught:
        Contacts.load(path)
    assert isinstance(caught.value, LocalError)
    assert caught.value.exit_code == 1
    message = str(caught.value)
    assert message == f"contacts file {path} is corrupt ({why}): fix or remove it"
    assert "\n" not in message
    assert path.read_bytes() == content
    assert os.listdir(path.parent) == ["contacts.json"]


def test_the_same_key_twice_is_corrupt(path: Path) -> None:
    Contacts.load(path).verify(BOB, "bob", 1.0)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["contacts"].append(data["contacts"][0])
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ContactsError, match=r"contact 2: the same key twice"):
        Contacts.load(path)


def test_an_unreadable_file_is_one_line(path: Path) -> None:
    path.mkdir(parents=True)  # a folder where the file should be
    with pytest.raises(ContactsError) as caught:
        Contacts.load(path)
    assert str(caught.value).startswith(f"cannot read contacts file {path}: ")


def test_a_file_written_by_this_version_loads_back(path: Path) -> None:
    book = Contacts.load(path)
    book.verify(BOB, "bøb ☂", 1.25)
    book.recognise(ALICE, "alice", 2.0)
    assert Contacts.load(path).entries() == book.entries()


def test_disabled_recognises_every_key_as_new_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    book = Contacts.disabled()
    assert not book.enabled
    book.verify(BOB, "bob", 1.0)
    assert book.recognise(BOB, "bob", 2.0) == Recognition(NEW, BOB, fingerprint(BOB))
    assert book.recognise(MALLORY, "bob", 3.0).kind == NEW
    assert not book.is_verified(BOB)
    assert not book.forget(BOB)
    assert book.forget_nick("bob") == 0
    assert book.entries() == []
    assert list(tmp_path.iterdir()) == []


VERIFY_MANY = """
import sys
from pathlib import Path
from confide.app.contacts import Contacts
book = Contacts.load(Path(sys.argv[1]))
tag = int(sys.argv[2])
sys.stdout.write("ready\\n")
sys.stdout.flush()
sys.stdin.readline()
for i in range(40):
    book.verify(bytes([tag, i]) + bytes(30), f"n{tag}-{i}", 1.0)
"""


def test_two_confides_changing_contacts_at_once_lose_nothing(path: Path) -> None:
    # two chats open at once: each reads, changes and writes the file; without a
    # lock, one's write can drop a change the other made in between
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", VERIFY_MANY, str(path), str(tag)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for tag in (1, 2)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
    for proc in procs:  # both start as close together as two writes allow
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        proc.communicate(timeout=60)  # also closes the pipes
        assert proc.returncode == 0
    assert len(Contacts.load(path).entries()) == 80
