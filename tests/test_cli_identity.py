"""``confide id`` and ``confide contacts``, run as real processes, with their own data folder.

Each test gives its processes an ``XDG_DATA_HOME`` in ``tmp_path``, so the
key and contacts files are the test's. ``confide id`` makes the key once
(mode 0600, said on stderr) and shows the same fingerprint after;
``--identity FILE`` uses that file. ``confide contacts`` lists a file
seeded through ``app.contacts`` (not by hand, so the test reads what a chat
would have written), ``forget NICK`` removes its keys, an unknown nick and a
corrupt file are exit 1 with one line. The chat commands parse
``--identity``/``--no-identity``; ``--help`` explains them all, without
importing the key file and contacts modules. A ``Launcher`` gives its
processes a data folder of their own, never the user's.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from proc import Launcher, Proc

from confide.app.contacts import Contacts
from confide.app.identity_file import load_identity
from confide.cli import build_parser
from confide.protocol.identity import fingerprint, public_bytes

BOB = bytes([2]) * 32
BOB_NEW = bytes([4]) * 32
CAROL = bytes([3]) * 32
FINGERPRINT = r"[a-z2-7]{4}(?: [a-z2-7]{4}){7}"
JAN_2 = datetime(2026, 1, 2, 12, 0).timestamp()  # local noon: the same day in any zone
MAR_4 = datetime(2026, 3, 4, 12, 0).timestamp()


@pytest.fixture
def data_home(tmp_path: Path) -> Path:
    return tmp_path / "data"


def _run(confide: Launcher, data_home: Path, *args: str) -> Proc:
    return confide.run(*args, env={"XDG_DATA_HOME": str(data_home)})


def _one_error_line(proc: Proc, text: str) -> None:
    assert proc.wait() == 1, proc
    assert proc.err_lines == [f"confide: {text}"], proc
    assert proc.out == ""


def test_id_makes_the_key_once_and_shows_the_same_fingerprint(
    confide: Launcher, data_home: Path
) -> None:
    key_file = data_home / "confide" / "identity.pem"
    first = _run(confide, data_home, "id")
    assert first.wait() == 0, first
    assert first.err_lines == [f"created a new identity in {key_file}"]
    shown = first.expect_out(rf"^your fingerprint: ({FINGERPRINT})$").group(1)
    first.expect_out(rf"^key file: {key_file}$")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert shown == fingerprint(public_bytes(load_identity(key_file)))

    again = _run(confide, data_home, "id")
    assert again.wait() == 0, again
    assert again.err == ""
    assert again.out_lines == [f"your fingerprint: {shown}", f"key file: {key_file}"]


def test_id_with_another_file_uses_that_file(
    confide: Launcher, data_home: Path, tmp_path: Path
) -> None:
    default = _run(confide, data_home, "id")
    assert default.wait() == 0
    chosen = tmp_path / "work.pem"
    other = _run(confide, data_home, "id", "--identity", str(chosen))
    assert other.wait() == 0, other
    assert other.err_lines == [f"created a new identity in {chosen}"]
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o600
    assert other.out_lines == [
        f"your fingerprint: {fingerprint(public_bytes(load_identity(chosen)))}",
        f"key file: {chosen}",
    ]
    assert other.out_lines[0] != default.out_lines[0]


def test_id_with_a_file_that_is_not_a_key_is_one_line(
    confide: Launcher, data_home: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key\n", encoding="ascii")
    proc = _run(confide, data_home, "id", "--identity", str(bad))
    _one_error_line(
        proc,
        f"identity file {bad} is not an unencrypted Ed25519 private key (PEM): "
        "fix it, or give another file with --identity",
    )
    assert bad.read_text(encoding="ascii") == "not a key\n"


def test_contacts_in_an_empty_folder(confide: Launcher, data_home: Path) -> None:
    proc = _run(confide, data_home, "contacts")
    assert proc.wait() == 0, proc
    assert proc.out_lines == ["no contacts yet"]
    assert proc.err == ""
    assert not data_home.exists()  # listing writes nothing


def _seed(data_home: Path) -> Path:
    path = data_home / "confide" / "contacts.json"
    book = Contacts.load(path)
    book.recognise(BOB, "bob", JAN_2)
    book.verify(BOB, "bob", JAN_2)
    book.recognise(BOB, "bob", MAR_4)
    book.recognise(CAROL, "carol", MAR_4)  # seen, never verified
    book.recognise(BOB_NEW, "Bob", MAR_4)  # another key under bob's nick
    return path


def test_contacts_lists_each_key_verified_first(confide: Launcher, data_home: Path) -> None:
    _seed(data_home)
    proc = _run(confide, data_home, "contacts")
    assert proc.wait() == 0, proc
    assert proc.err == ""
    header, *rows = proc.out_lines
    assert header.split() == ["FINGERPRINT", "VERIFIED", "FIRST", "SEEN", "LAST", "SEEN", "NICK"]
    assert [row.split("  ")[0] for row in rows] == [
        fingerprint(BOB),
        fingerprint(BOB_NEW),
        fingerprint(CAROL),
    ]
    assert [row.split()[8:] for row in rows] == [
        ["yes", "2026-01-02", "2026-03-04", "bob"],
        ["no", "2026-03-04", "2026-03-04", "Bob"],
        ["no", "2026-03-04", "2026-03-04", "carol"],
    ]
    assert len({header.index("NICK"), *(row.rindex(row.split()[-1]) for row in rows)}) == 1


def test_forget_removes_every_key_of_the_nick(confide: Launcher, data_home: Path) -> None:
    path = _seed(data_home)
    forget = _run(confide, data_home, "contacts", "forget", "bob")
    assert forget.wait() == 0, forget
    assert forget.out_lines == ["forgot bob (2 keys)"]
    assert forget.err == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listed = _run(confide, data_home, "contacts")
    assert listed.wait() == 0, listed
    assert len(listed.out_lines) == 2
    assert listed.out_lines[1].endswith("  carol")
    assert "bob" not in listed.out.lower()
    assert [c.nick for c in Contacts.load(path).entries()] == ["carol"]

    once = _run(confide, data_home, "contacts", "forget", "carol")
    assert once.wait() == 0, once
    assert once.out_lines == ["forgot carol (1 key)"]


def test_forget_an_unknown_nick_exits_1(confide: Launcher, data_home: Path) -> None:
    path = _seed(data_home)
    before = path.read_bytes()
    _one_error_line(_run(confide, data_home, "contacts", "forget", "zed"), "no contact called zed")
    assert path.read_bytes() == before
    empty = _run(confide, data_home.with_name("empty"), "contacts", "forget", "bob")
    _one_error_line(empty, "no contact called bob")


@pytest.mark.parametrize("args", [["contacts"], ["contacts", "forget", "bob"]])
def test_a_corrupt_contacts_file_is_one_line_and_kept(
    confide: Launcher, data_home: Path, args: list[str]
) -> None:
    path = data_home / "confide" / "contacts.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"version": 1, "contacts": [{"key": "zz"}]}')
    proc = _run(confide, data_home, *args)
    _one_error_line(
        proc, f"contacts file {path} is corrupt (contact 1: the key is not hex): fix or remove it"
    )
    assert path.read_bytes() == b'{"version": 1, "contacts": [{"key": "zz"}]}'


def test_help_explains_id_and_contacts(confide: Launcher) -> None:
    top = confide.run("--help")
    assert top.wait() == 0
    assert "id                  show your identity's fingerprint" in top.out
    assert "contacts            list the people you have verified" in top.out
    shown = confide.run("id", "--help")
    assert shown.wait() == 0
    assert "--identity FILE" in shown.out
    assert "copy identity.pem" in shown.out
    listed = confide.run("contacts", "--help")
    assert listed.wait() == 0
    assert "forget    remove every key under NICK" in listed.out
    forget = confide.run("contacts", "forget", "--help")
    assert forget.wait() == 0
    assert "Remove every key listed under NICK" in forget.out


@pytest.mark.parametrize("command", ["host", "join", "send", "receive"])
def test_chat_commands_explain_identity_flags(confide: Launcher, command: str) -> None:
    shown = confide.run(command, "--help")
    assert shown.wait() == 0
    assert "--identity FILE" in shown.out
    assert "--no-identity" in shown.out
    assert "a throwaway identity" in shown.out


@pytest.mark.parametrize(
    ("command", "extra"),
    [("host", []), ("join", []), ("send", ["x.txt"]), ("receive", [])],
)
def test_chat_commands_parse_identity_flags(command: str, extra: list[str]) -> None:
    parser = build_parser()
    plain = parser.parse_args([command, *extra])
    assert plain.identity is None
    assert plain.no_identity is False
    chosen = parser.parse_args([command, "--identity=~/k.pem", *extra])
    assert chosen.identity == Path.home() / "k.pem"
    assert parser.parse_args([command, "--identity", "k.pem", *extra]).identity == Path("k.pem")
    assert parser.parse_args([command, "--no-identity", *extra]).no_identity is True


def test_identity_and_no_identity_together_are_a_usage_error(confide: Launcher) -> None:
    proc = confide.run("join", "--identity", "k.pem", "--no-identity", "--at", "127.0.0.1:9")
    assert proc.wait() == 2, proc
    assert "not allowed with argument" in proc.err


def test_help_imports_neither_the_key_file_nor_the_contacts_module() -> None:
    code = "import sys; sys.argv = ['confide', '--help']; from confide.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert "usage: confide" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "confide.cli_identity" in imported  # the listing is real
    assert not imported & {"confide.app.contacts", "confide.app.identity_file", "platformdirs"}


def test_tests_keep_out_of_the_users_data_folder(confide: Launcher) -> None:
    proc = confide.run("id")  # no XDG_DATA_HOME given: the launcher's own
    assert proc.wait() == 0, proc
    assert (
        proc.out_lines[1]
        == f"key file: {Path(confide.data_homes[-1]) / 'confide' / 'identity.pem'}"
    )
