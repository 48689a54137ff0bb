"""End to end: ``confide send`` and ``confide receive`` as real processes.

A 200 MiB random file arrives byte-identical, directly and through a real
relay (compared by hashing both files, a MiB at a time); a directory tree
(nested folders, an empty file, a unicode name, a symlink) arrives under
one folder; a wrong code is exit 3; ``--help`` lists both commands and
their exit codes. Cuts, tampering, a full disk and ``--resume`` are in
``test_send_receive_faults``; hostile senders in ``test_send_receive_hostile``.
"""

from __future__ import annotations

import os
import pty
import subprocess
import time
from pathlib import Path

import pytest
from proc import DEFAULT_TIMEOUT, Launcher, confide_command
from send_receive_support import MiB, file_hash, random_file, start_receive, start_send
from test_relay_support import start_relay

BIG = 200 * MiB
TRANSFER_TIMEOUT = 120.0
"""Seconds a 200 MiB transfer may take on a loaded two-core machine (it takes a few)."""
pytestmark = pytest.mark.timeout(2 * TRANSFER_TIMEOUT + 60)
"""Big transfers wait up to ``TRANSFER_TIMEOUT`` for their end, after writing and before
hashing their files: the suite's 120 s per test would cut that wait short."""


def test_a_200_mib_file_arrives_byte_identical(confide: Launcher, tmp_path: Path) -> None:
    source = tmp_path / "out" / "big.bin"
    source.parent.mkdir()
    digest = random_file(source, BIG)
    inbox = tmp_path / "in"
    inbox.mkdir()
    sender = start_send(confide, "--name", "alice", str(source))
    receiver = start_receive(confide, sender.at, sender.code, inbox, "--name", "bob")

    assert receiver.wait(TRANSFER_TIMEOUT) == 0, receiver
    assert sender.proc.wait() == 0, sender.proc
    assert file_hash(inbox / "big.bin") == digest
    assert sorted(os.listdir(inbox)) == ["big.bin"]  # no .part left
    receiver.expect_err(r"^alice \(not verified\) offers big\.bin \(200\.0 MiB\)$")
    receiver.expect_err(r"^stdin is not a terminal: accepting$")
    assert receiver.expect_out(r"^saved (.*)$").group(1) == str(inbox / "big.bin")
    receiver.expect_err(r"^big\.bin: done, 200\.0 MiB in ")
    sender.proc.expect_err(r"^bob received everything: done$")


def test_a_200_mib_file_arrives_byte_identical_through_a_relay(
    confide: Launcher, tmp_path: Path
) -> None:
    relay = start_relay(confide)
    relay_at = f"127.0.0.1:{relay.port}"
    source = tmp_path / "big.bin"
    digest = random_file(source, BIG)
    inbox = tmp_path / "in"
    inbox.mkdir()
    sender = start_send(confide, str(source), relay=relay_at)
    receiver = start_receive(confide, relay_at, sender.code, inbox, relay=True)

    assert receiver.wait(TRANSFER_TIMEOUT) == 0, receiver
    assert sender.proc.wait() == 0, sender.proc
    assert file_hash(inbox / "big.bin") == digest
    assert sorted(os.listdir(inbox)) == ["big.bin"]


def test_a_directory_tree_arrives_under_one_folder(confide: Launcher, tmp_path: Path) -> None:
    tree = tmp_path / "out" / "photos"
    (tree / "2024" / "summer").mkdir(parents=True)
    (tree / "empty-dir").mkdir()
    digest = random_file(tree / "2024" / "summer" / "beach.jpg", 3 * MiB + 17)
    (tree / "empty.txt").write_bytes(b"")
    (tree / "zürich · café 日本.txt").write_text("grüezi\n", encoding="utf-8")
    (tree / "latest").symlink_to("2024/summer/beach.jpg")
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "photos").mkdir()  # taken: the tree gets "photos (1)", nothing is overwritten

    sender = start_send(confide, str(tree))
    receiver = start_receive(confide, sender.at, sender.code, inbox, "--yes")

    assert receiver.wait(TRANSFER_TIMEOUT) == 0, receiver
    assert sender.proc.wait() == 0, sender.proc
    got = inbox / "photos (1)"
    assert sorted(os.listdir(inbox)) == ["photos", "photos (1)"]
    assert os.listdir(inbox / "photos") == []
    assert file_hash(got / "2024" / "summer" / "beach.jpg") == digest
    assert (got / "empty.txt").read_bytes() == b""
    assert (got / "empty-dir").is_dir()
    assert (got / "zürich · café 日本.txt").read_text(encoding="utf-8") == "grüezi\n"
    assert os.readlink(got / "latest") == "2024/summer/beach.jpg"
    assert file_hash(got / "latest") == digest  # the link points inside the tree
    receiver.expect_err(r"offers photos \(3\.0 MiB, 3 files\)$")
    receiver.expect_err(r"^accepting \(--yes\)$")
    assert receiver.expect_out(r"^saved (.*)$").group(1) == str(got)


def test_a_wrong_code_is_exit_3(confide: Launcher, tmp_path: Path) -> None:
    source = tmp_path / "note.txt"
    source.write_text("hello\n")
    sender = start_send(confide, str(source))
    nameplate, *words = sender.code.split("-")
    wrong = "-".join([nameplate, *words[1:], words[0]])  # real words, in another order
    assert wrong != sender.code
    receiver = start_receive(confide, sender.at, wrong, tmp_path)

    assert receiver.wait() == 3, receiver
    receiver.expect_err(r"^confide: .*(wrong code|code or password)")
    assert [line for line in receiver.err_lines if line.startswith("confide:")] == [
        receiver.err_lines[-1]
    ]
    assert sender.proc.running()  # the sender waits on for the right receiver
    assert sorted(os.listdir(tmp_path)) == ["note.txt"]


def test_help_lists_send_and_receive_and_their_exit_codes(confide: Launcher) -> None:
    top = confide.run("--help")
    assert top.wait() == 0
    assert "send files or folders" in top.out
    assert "receive what 'confide send' offers" in top.out
    assert "'/send PATH' offers a file or folder" in top.out  # and in a chat
    assert "'/accept' (or 'y') or\n  '/decline'" in top.out
    for command, flags in (
        ("send", ("--bind", "--port", "--words", "--tunnel", "--relay", "--password-file")),
        ("receive", ("--at", "--relay", "--code-file", "--dir", "--resume", "--yes")),
    ):
        shown = confide.run(command, "--help")
        assert shown.wait() == 0
        for flag in flags:
            assert flag in shown.out, (command, flag)
        assert "every file arrived and its hash was verified" in shown.out
        assert "3    wrong code or password" in shown.out
        assert "130  interrupted" in shown.out


def test_a_missing_path_is_a_usage_error_before_any_code(confide: Launcher, tmp_path: Path) -> None:
    sender = confide.run("send", "--no-relay", str(tmp_path / "nope.txt"))
    assert sender.wait() == 2
    assert "code:" not in sender.err
    assert len(sender.err_lines) == 1, sender
    assert "nope.txt" in sender.err


def test_downloads_from_the_config_and_a_password(confide: Launcher, tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    config = Path(confide.config_home) / "confide" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'downloads = "{downloads}"\n', encoding="utf-8")
    secret = tmp_path / "password.txt"
    secret.write_text("correct horse battery staple\n")
    source = tmp_path / "note.txt"
    source.write_text("the plans\n")
    sender = confide.run(
        "send", "--bind", "127.0.0.1", "--port", "0", "--no-discovery", "--no-relay",
        "--password-file", str(secret), str(source), label="send",
    )  # fmt: skip
    port = int(sender.expect_err(r"^listening on 127\.0\.0\.1:(\d+)$").group(1))
    receiver = confide.run(
        "receive", "--at", f"127.0.0.1:{port}", "--no-relay", "--password-file", str(secret),
        label="receive",
    )  # fmt: skip
    assert receiver.wait() == 0, receiver
    assert sender.wait() == 0, sender
    assert (downloads / "note.txt").read_text() == "the plans\n"
    assert "code:" not in sender.err


@pytest.mark.parametrize("answer", [b"n\n", b"\x04"], ids=["no", "end-of-input"])
def test_on_a_terminal_it_asks_and_no_declines(
    confide: Launcher, tmp_path: Path, answer: bytes
) -> None:
    source = tmp_path / "secret.txt"
    source.write_text("not for you\n")
    inbox = tmp_path / "in"
    inbox.mkdir()
    sender = start_send(confide, "--name", "alice", str(source))
    env = {**os.environ, "CONFIDE_CODE": sender.code, "XDG_CONFIG_HOME": confide.config_home}
    main, tty = pty.openpty()
    try:
        receiver = subprocess.Popen(
            [*confide_command(), "receive", "--at", sender.at, "--no-relay", "--dir", str(inbox)],
            stdin=tty, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            start_new_session=True,
        )  # fmt: skip
        try:
            seen = b""
            deadline = time.monotonic() + DEFAULT_TIMEOUT
            while b"accept? [Y/n]" not in seen:
                assert time.monotonic() < deadline, seen
                assert receiver.stderr is not None
                seen += os.read(receiver.stderr.fileno(), 4096)
            os.write(main, answer)
            _, err = receiver.communicate(timeout=DEFAULT_TIMEOUT)
        finally:
            receiver.kill()
            receiver.wait()
    finally:
        os.close(main)
        os.close(tty)
    said = (seen + err).decode()
    assert receiver.returncode == 1, said
    assert "alice (not verified) offers secret.txt (12 B)" in said
    assert "not received" in said or "declined" in said
    assert list(inbox.iterdir()) == []
    assert sender.proc.wait() == 1, sender.proc
    sender.proc.expect_err(r"^secret\.txt: failed: declined$")


def test_several_paths_are_offered_and_received_in_one_go(
    confide: Launcher, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.bin"
    first.write_text("first\n")
    digest = random_file(second, 5 * MiB)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "a.txt").write_text("already here\n")
    sender = start_send(confide, str(first), str(second))
    receiver = start_receive(confide, sender.at, sender.code, inbox)

    assert receiver.wait() == 0, receiver
    assert sender.proc.wait() == 0, sender.proc
    assert sorted(os.listdir(inbox)) == ["a (1).txt", "a.txt", "b.bin"]
    assert (inbox / "a.txt").read_text() == "already here\n"  # never overwritten
    assert (inbox / "a (1).txt").read_text() == "first\n"
    assert file_hash(inbox / "b.bin") == digest
    saved = sorted(line.removeprefix("saved ") for line in receiver.out_lines)
    assert saved == [str(inbox / "a (1).txt"), str(inbox / "b.bin")]
