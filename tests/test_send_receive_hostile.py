"""End to end: a hostile sender against a real ``confide receive``.

The sender is ``rawpeer.RawPeer``: it knows the code and speaks the real
handshake and records, but sends whatever the test says. Each hostile offer
runs on its own: ``../../etc/passwd``, an absolute path, a name with a
terminal escape, a Windows device name, a 300-character name, a tree
member that climbs out with ``..``, and a tree link pointing outside. Every
time, whatever the receiver writes lands inside ``--dir`` under a safe
name, nothing is created anywhere else, and no control character reaches
the terminal.
"""

from __future__ import annotations

import hashlib
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from proc import Launcher, Proc
from rawpeer import TIMEOUT, RawPeer

from confide.protocol import codes
from confide.protocol import messages as m
from confide.protocol.events import MessageReceived

DATA = b"not what it claims to be\n" * 40


@dataclass(frozen=True)
class Hostile:
    """One hostile offer and what the receiver should make of it."""

    name: str
    paths: tuple[str, ...] = ("",)
    kinds: tuple[str, ...] = ("file",)
    targets: tuple[str, ...] = ("",)
    saved_as: str = ""
    """The name the receiver gives it in ``--dir``."""
    inside: tuple[str, ...] = ()
    """Members of a tree that must exist inside it."""
    absent: tuple[str, ...] = ()
    """Members of a tree that must not exist."""


def _cases(tmp_root: str) -> dict[str, Hostile]:
    return {
        "dotdot": Hostile("../../etc/passwd", saved_as="passwd"),
        "absolute": Hostile(f"{tmp_root}/abs", saved_as="abs"),
        "escape": Hostile("a\x1b[2Jb", saved_as="a[2Jb"),
        "device": Hostile("CON", saved_as="_CON"),
        "long": Hostile("x" * 300 + ".txt", saved_as="x" * 196 + ".txt"),
        "tree-member": Hostile(
            "tree", paths=("../../escaped.txt",), saved_as="tree", inside=("escaped.txt",)
        ),
        "tree-link": Hostile(
            "tree",
            paths=("inside.txt", "evil"),
            kinds=("file", "link"),
            targets=("", "../../../etc/passwd"),
            saved_as="tree",
            inside=("inside.txt",),
            absent=("evil",),
        ),
    }


CASES = ("dotdot", "absolute", "escape", "device", "long", "tree-member", "tree-link")


def receive_from(confide: Launcher, listener: socket.socket, folder: Path) -> tuple[Proc, RawPeer]:
    """A real ``confide receive --dir folder`` and the hostile sender it reached on ``listener``."""
    code = codes.generate("7", 3, secrets.randbelow)
    receiver = confide.run(
        "receive",
        "--at",
        f"127.0.0.1:{listener.getsockname()[1]}",
        "--no-relay",
        "--dir",
        str(folder),
        env={"CONFIDE_CODE": str(code)},
        label="receive",
    )
    return receiver, RawPeer.accept(listener, code.secret, code.nameplate)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


def _next_message(peer: RawPeer, kind: type[m.Message], deadline: float) -> m.Message:
    """Read from the receiver until a message of ``kind`` arrives (acks and the rest skipped)."""
    while True:
        for message in peer.received:
            if isinstance(message, kind):
                peer.received.remove(message)
                return message
        assert time.monotonic() < deadline, f"no {kind.__name__} from the receiver"
        data = peer.sock.recv(65536)
        assert data, f"the receiver closed before its {kind.__name__}"
        for event in peer.conn.receive_data(data):
            if isinstance(event, MessageReceived):
                peer.received.append(event.message)


def _tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")} | {p for p in root.rglob(".*")}


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_offer_lands_safely_inside_dir(
    confide: Launcher, listener: socket.socket, tmp_path: Path, case: str
) -> None:
    hostile = _cases(str(tmp_path))[case]
    inbox = tmp_path / "a" / "b" / "in"  # a ../.. that got through would land in tmp_path/a
    inbox.mkdir(parents=True)
    before = _tree(tmp_path)
    receiver, peer = receive_from(confide, listener, inbox)
    deadline = time.monotonic() + TIMEOUT
    try:
        sizes = [len(DATA) if kind == "file" else 0 for kind in hostile.kinds]
        stream = DATA * hostile.kinds.count("file")
        offer = m.FileOffer(
            1,
            "",
            hostile.name,
            len(stream),
            list(hostile.paths),
            sizes,
            list(hostile.kinds),
            list(hostile.targets),
        )
        peer.send(m.Nick("mallory"), offer)
        accepted = _next_message(peer, m.FileAccept, deadline)
        assert isinstance(accepted, m.FileAccept)
        assert accepted.offset == 0
        peer.send(
            m.FileChunk(1, "", 0, stream),
            m.FileDone(1, "", hashlib.sha256(stream).digest()),
            m.Bye("sent"),
        )
        said = _next_message(peer, m.Bye, deadline)
        assert isinstance(said, m.Bye)
        assert said.reason == "received"
    finally:
        peer.close()
    assert receiver.wait() == 0, receiver

    saved = inbox / hostile.saved_as
    assert receiver.expect_out(r"^saved (.*)$").group(1) == str(saved)
    assert saved.exists()
    created = _tree(tmp_path) - before
    assert all(inbox in p.parents for p in created), created
    for member in hostile.inside:
        assert (saved / member).read_bytes() == DATA
    for member in hostile.absent:
        assert not (saved / member).exists()
        assert not (saved / member).is_symlink()
    if hostile.absent:
        receiver.expect_err(r"^tree: the link evil .*: not created$")
    if hostile.paths == ("",):  # a single file
        assert saved.read_bytes() == DATA
    assert len(saved.name.encode()) <= 200
    shown = receiver.out + receiver.err
    assert "\x1b" not in shown
    assert not any(ord(ch) < 32 and ch != "\n" for ch in shown)


def test_a_wrong_digest_is_exit_1_and_nothing_gets_the_name(
    confide: Launcher, listener: socket.socket, tmp_path: Path
) -> None:
    receiver, peer = receive_from(confide, listener, tmp_path)
    deadline = time.monotonic() + TIMEOUT
    try:
        offer = m.FileOffer(1, "", "report.pdf", len(DATA), [""], [len(DATA)], ["file"], [""])
        peer.send(m.Nick("mallory"), offer)
        _next_message(peer, m.FileAccept, deadline)
        wrong = hashlib.sha256(DATA + b"!").digest()
        peer.send(m.FileChunk(1, "", 0, DATA), m.FileDone(1, "", wrong), m.Bye("sent"))
        said = _next_message(peer, m.Bye, deadline)
        assert isinstance(said, m.Bye)
        assert "did not match its hash" in said.reason
    finally:
        peer.close()
    assert receiver.wait() == 1, receiver
    receiver.expect_err(r"^report\.pdf: failed: the file did not match its hash")
    assert list(tmp_path.iterdir()) == []
    assert receiver.out == ""
