"""End to end: ``confide send``/``receive`` through the SSH tunnel and over the LAN.

The same routes a chat takes (``test_tunnel``, ``test_discovery``), with a
file instead of messages:

- ``confide send --tunnel`` through a real OpenSSH sshd on loopback
  (``sshd.SshServer``); the receiver dials the port sshd opened for the
  remote forward, so every byte crosses the tunnel, and ssh is gone when
  the sender exits.
- ``confide send`` with discovery on, in namespace A of a two-namespace LAN
  (``netns.Lan``); ``confide receive`` in namespace B with nothing but the
  code finds it over mDNS.

Both check the receiver's copy byte for byte (by hash).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from netns import Lan, run_in
from proc import Launcher
from send_receive_support import MiB, file_hash, random_file
from sshd import SshServer, alive, descendants

TUNNEL_LINE = r"^tunnel: joiners use --at (127\.0\.0\.1:\d+)$"
SIZE = 3 * MiB + 123
TIMEOUT = 60.0


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    """A running sshd for this test, stopped afterwards."""
    server = SshServer.start(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lan() -> Iterator[Lan]:
    """Namespaces A and B joined by a veth pair; deleted afterwards."""
    made = Lan.create()
    try:
        yield made
    finally:
        made.destroy()


def _ssh_children(pid: int) -> list[int]:
    def comm(child: int) -> str:
        try:
            return Path(f"/proc/{child}/comm").read_text().strip()
        except OSError:
            return ""

    return [p for p in descendants(pid) if comm(p) == "ssh"]


def test_a_file_arrives_through_the_ssh_tunnel(
    confide: Launcher, sshd: SshServer, tmp_path: Path
) -> None:
    source = tmp_path / "doc.bin"
    digest = random_file(source, SIZE)
    inbox = tmp_path / "in"
    inbox.mkdir()
    sender = confide.run(
        "send", "--name", "alice", "--tunnel", sshd.target(), "--no-discovery", "--no-relay",
        str(source), env={"CONFIDE_SSH_CONFIG": str(sshd.client_config())}, label="send",
    )  # fmt: skip
    try:
        at = sender.expect_err(TUNNEL_LINE).group(1)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nsshd log:\n{sshd.log_text()}") from None
    code = sender.expect_err(r"^code: (\S+)$").group(1)
    listening = [x for x in sender.err_lines if x.startswith("listening on 127.0.0.1:")]
    assert listening, sender
    assert not listening[0].endswith(":" + at.split(":")[1])  # the receiver goes through sshd
    ssh = _ssh_children(sender.pid)
    assert len(ssh) == 1, sender

    receiver = confide.run(
        "receive", "--name", "bob", "--at", at, "--no-relay", "--dir", str(inbox),
        env={"CONFIDE_CODE": code}, label="receive",
    )  # fmt: skip
    assert receiver.wait(TIMEOUT) == 0, receiver
    assert sender.wait(TIMEOUT) == 0, sender
    assert file_hash(inbox / "doc.bin") == digest
    assert sorted(os.listdir(inbox)) == ["doc.bin"]
    sender.expect_err(r"^bob received everything: done$")
    assert not alive(ssh[0]), "ssh was left running after the sender exited"


def test_a_receiver_on_the_lan_finds_the_sender_with_only_the_code(
    confide: Launcher, lan: Lan, tmp_path: Path
) -> None:
    source = tmp_path / "doc.bin"
    digest = random_file(source, SIZE)
    inbox = tmp_path / "in"
    inbox.mkdir()
    sender = run_in(
        confide, lan.a, "send", "--port", "0", "--no-relay", "--name", "alice", str(source)
    )
    code = sender.expect_err(r"^code: (\S+)$").group(1)
    sender.expect_err(r"^LAN: joiners on this network need only the code")
    receiver = run_in(
        confide, lan.b, "receive", "--no-relay", "--name", "bob", "--dir", str(inbox),
        env={"CONFIDE_CODE": code},
    )  # fmt: skip
    receiver.expect_err(r"^found it at 10\.77\.0\.1:\d+; connecting$")
    assert receiver.wait(TIMEOUT) == 0, receiver
    assert sender.wait(TIMEOUT) == 0, sender
    assert file_hash(inbox / "doc.bin") == digest
    assert sorted(os.listdir(inbox)) == ["doc.bin"]
