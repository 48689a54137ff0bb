"""End to end: identity keys and contacts across real chats, each side with its own folders.

Every side (alice, bob) runs with an ``XDG_DATA_HOME`` and an
``XDG_CONFIG_HOME`` of its own in ``tmp_path``, kept from one chat to the
next as a user's would be:

- the first chat says ``new contact`` on both sides; ``/verify ok`` on both,
  then a second chat (a new code) says ``✔ ... (known)`` on both, with no
  SAS to compare;
- a joiner that comes back under the verified nick with another key
  (``--identity OTHER.pem``) gets the host's ``warning:`` lines in line mode,
  and ``KEY CHANGED`` in the status bar and the warning in the log of the
  full-screen UI (tmux);
- ``--no-identity`` writes nothing in the data folder;
- a file offered by a verified contact says ``(verified)``, in a chat and
  in ``confide receive``;
- a corrupt contacts file ends a command in one line before it connects;
- in a room of three, each member's ``/who`` shows the other member's key
  (passed on by the host) and that it is not verified by them.
"""

from __future__ import annotations

import re
from pathlib import Path

from proc import Launcher, Proc, connected
from test_tmux_e2e import Tmux, tmux  # noqa: F401 (the fixture)

from confide.app.contacts import Contacts

NEW = r"^new contact: compare the SAS, then /verify ok$"
VERIFIED = r"^you marked (\w+) verified: their key is a verified contact, in later chats too$"


def side(tmp_path: Path, nick: str) -> dict[str, str]:
    """The environment of one person: data and config folders of their own."""
    data, config = tmp_path / f"{nick}-data", tmp_path / f"{nick}-config"
    config.mkdir(exist_ok=True)
    return {"XDG_DATA_HOME": str(data), "XDG_CONFIG_HOME": str(config)}


def known(nick: str) -> str:
    return rf"^✔ {nick} \(known\): a verified contact, nothing to compare$"


def leave(host: Proc, joiner: Proc) -> None:
    """The joiner quits; both end with exit 0."""
    joiner.say("/quit")
    assert joiner.wait() == 0, joiner
    host.expect_err(r"^bob left$")
    assert host.wait() == 0, host


def first_chat(confide: Launcher, alice: dict[str, str], bob: dict[str, str]) -> None:
    """alice and bob meet for the first time, compare the SAS and both say /verify ok."""
    host = confide.host("--name", "alice", env=alice)
    joiner = confide.join(host, "--name", "bob", env=bob)
    host.proc.expect_err(NEW)
    joiner.expect_err(NEW)
    connected(host.proc, joiner)
    host.proc.say("/verify ok")
    assert host.proc.expect_err(VERIFIED).group(1) == "bob"
    joiner.say("/verify ok")
    assert joiner.expect_err(VERIFIED).group(1) == "alice"
    leave(host.proc, joiner)


def test_verified_in_the_first_chat_known_in_the_second(confide: Launcher, tmp_path: Path) -> None:
    alice, bob = side(tmp_path, "alice"), side(tmp_path, "bob")
    first_chat(confide, alice, bob)
    host = confide.host("--name", "alice", env=alice)
    joiner = confide.join(host, "--name", "bob", env=bob)
    host.proc.expect_err(known("bob"))
    joiner.expect_err(known("alice"))
    connected(host.proc, joiner)
    for proc in (host.proc, joiner):
        assert not any(re.search(NEW, line) for line in proc.err_lines), proc
    joiner.say("/who")
    joiner.expect_err(r"^alice's key (\w{4} ){7}\w{4} \(verified by you\)$")
    leave(host.proc, joiner)


def test_a_changed_key_under_a_verified_nick_is_a_warning_in_line_mode(
    confide: Launcher, tmp_path: Path
) -> None:
    alice, bob = side(tmp_path, "alice"), side(tmp_path, "bob")
    first_chat(confide, alice, bob)
    host = confide.host("--name", "alice", env=alice)
    other = tmp_path / "OTHER.pem"
    joiner = confide.join(host, "--name", "bob", "--identity", str(other), env=bob)
    host.proc.expect_err(r"^warning: @@@ BOB'S IDENTITY KEY HAS CHANGED @@@$")
    host.proc.expect_err(r"^warning: .*someone in the middle who knows the code")
    host.proc.expect_err(r"^warning: To check: compare the SAS with bob out loud")
    joiner.expect_err(known("alice"))  # alice's key did not change
    connected(host.proc, joiner)
    assert other.exists()
    host.proc.say("/who")
    host.proc.expect_err(r"^bob's key .* \(not verified by you\)$")
    leave(host.proc, joiner)


def test_no_identity_writes_nothing(confide: Launcher, tmp_path: Path) -> None:
    alice, bob = side(tmp_path, "alice"), side(tmp_path, "bob")
    host = confide.host("--name", "alice", "--no-identity", env=alice)
    joiner = confide.join(host, "--name", "bob", "--no-identity", env=bob)
    host.proc.expect_err(NEW)
    connected(host.proc, joiner)
    host.proc.say("/verify ok")
    host.proc.expect_err(VERIFIED)
    joiner.say("/whoami")
    joiner.expect_err(r"^your fingerprint: (\w{4} ){7}\w{4}$")
    leave(host.proc, joiner)
    for person in (alice, bob):
        data = Path(person["XDG_DATA_HOME"])
        assert not data.exists() or not any(data.rglob("*")), list(data.rglob("*"))


def test_a_file_from_a_verified_contact_says_so(confide: Launcher, tmp_path: Path) -> None:
    alice, bob = side(tmp_path, "alice"), side(tmp_path, "bob")
    first_chat(confide, alice, bob)
    (tmp_path / "notes.txt").write_text("hello\n")
    host = confide.host("--name", "alice", env=alice)
    joiner = confide.join(host, "--name", "bob", env=bob)
    connected(host.proc, joiner)
    host.proc.say(f"/send {tmp_path / 'notes.txt'}")
    joiner.expect_err(r"^alice \(verified\) offers notes\.txt \(6 B\): /accept or /decline$")
    leave(host.proc, joiner)


def test_a_changed_key_turns_the_full_screen_status_bar_red(tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811
    alice_data = tmp_path / "alice-data"
    book = Contacts.load(alice_data / "confide" / "contacts.json")
    book.verify(bytes(32), "bob", 1.0)  # bob was verified with another key before
    tmux.start(
        "host",
        ["host", "--bind", "127.0.0.1", "--port", "0", "--name", "alice"],
        env={"XDG_DATA_HOME": str(alice_data)},
    )
    port = tmux.wait_for("host", r"listening on 127\.0\.0\.1:(\d+)").group(1)
    code = tmux.wait_for("host", r"code: (\S+)").group(1)
    tmux.start(
        "join",
        ["join", "--at", f"127.0.0.1:{port}", "--name", "bob", "--timeout", "10"],
        env={"CONFIDE_CODE": code},
    )
    tmux.wait_for("host", r"e2e │ KEY CHANGED")  # in the status bar, where the SAS was
    tmux.wait_for("host", r"BOB'S IDENTITY KEY HAS CHANGED")
    tmux.wait_for("host", r"someone in the middle")
    tmux.wait_for("join", r"new contact: compare the SAS, then /verify ok")
    tmux.type("host", "/verify ok")
    tmux.keys("host", "Enter")
    tmux.wait_for("host", r"e2e │ ✔ verified")
    assert not re.search(r"e2e │ KEY CHANGED", tmux.screen("host"))
    assert Contacts.load(alice_data / "confide" / "contacts.json").is_verified(bytes(32)) is False
    tmux.keys("host", "C-c")
    tmux.wait_for("host", r"Leave the chat\?")
    tmux.keys("host", "C-c")
    tmux.wait_for("host", r"exit status 0")


def test_a_corrupt_contacts_file_ends_a_chat_before_it_connects(
    confide: Launcher, tmp_path: Path
) -> None:
    alice = side(tmp_path, "alice")
    contacts = Path(alice["XDG_DATA_HOME"]) / "confide" / "contacts.json"
    contacts.parent.mkdir(parents=True)
    contacts.write_text("not json")
    host = confide.run("host", "--bind", "127.0.0.1", "--port", "0", "--plain", env=alice)
    assert host.wait() == 1, host
    assert len(host.err_lines) == 1, host
    assert re.search(r"contacts file .*contacts\.json is corrupt .*: fix or remove it", host.err)
    assert contacts.read_text() == "not json"


def test_confide_receive_says_the_sender_is_a_verified_contact(
    confide: Launcher, tmp_path: Path
) -> None:
    alice, bob = side(tmp_path, "alice"), side(tmp_path, "bob")
    first_chat(confide, alice, bob)
    (tmp_path / "notes.txt").write_text("hello\n")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    loopback = ("--bind", "127.0.0.1", "--port", "0", "--no-discovery", "--no-relay")
    sender = confide.run(
        "send", *loopback, "--name", "alice", str(tmp_path / "notes.txt"), env=alice
    )
    port = sender.expect_err(r"^listening on 127\.0\.0\.1:(\d+)$").group(1)
    code = sender.expect_err(r"^code: (\S+)$").group(1)
    receiver = confide.run(
        "receive", "--at", f"127.0.0.1:{port}", "--no-relay", "--dir", str(inbox),
        "--name", "bob", env={**bob, "CONFIDE_CODE": code},
    )  # fmt: skip
    receiver.expect_err(r"^alice is a verified contact: nothing to compare$")
    receiver.expect_err(r"^alice \(verified\) offers notes\.txt \(6 B\)$")
    assert receiver.wait() == 0, receiver
    assert sender.wait() == 0, sender
    assert (inbox / "notes.txt").read_text() == "hello\n"


def test_room_members_see_each_others_keys_through_the_host(
    confide: Launcher, tmp_path: Path
) -> None:
    people = {nick: side(tmp_path, nick) for nick in ("alice", "bob", "carol")}
    host = confide.host("--name", "alice", env=people["alice"])
    bob = confide.join(host, "--name", "bob", env=people["bob"])
    connected(host.proc, bob)
    carol = confide.join(host, "--name", "carol", env=people["carol"])
    connected(carol)
    host.proc.expect_err(r"^carol joined \(3 members\)$")
    host.proc.expect_err(r"^carol is a new contact: compare the SAS \(/verify carol\)")
    carol.say("/whoami")
    carol_key = carol.expect_err(r"^your fingerprint: ((?:\w{4} ){7}\w{4})$").group(1)
    bob.say("/who")
    bob.expect_err(
        rf"^  carol: vouched for by the host only · key {carol_key} \(not verified by you\)$"
    )
    carol.say("/who")
    carol.expect_err(
        r"^  bob: vouched for by the host only · key (\w{4} ){7}\w{4} \(not verified by you\)$"
    )
    for member in (bob, carol):
        member.say("/quit")
        assert member.wait() == 0, member
    assert host.proc.wait() == 0, host.proc
