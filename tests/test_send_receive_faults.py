"""End to end: ``confide send``/``receive`` when things go wrong.

- A cut mid-transfer (``faultproxy``): the link resumes and the transfer
  goes on from where it was; the bytes the proxy carries after the cut are
  counted, and are fewer than what was left plus the 4 MiB window.
- A tampered chunk (``recording_proxy``'s tamper): the transfer aborts, and
  nothing gets the final name; with the default resume window, the sender
  ends too within seconds, saying the receiver could not open what it sent.
- A full disk (a small tmpfs the test mounts, as root): exit 1, one clear
  line, and the ``.part`` kept for a resume.
- ``confide receive --resume`` after the sender was killed mid-way: a new
  ``confide send`` of the same file continues from the ``.part``'s size.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from proc import Launcher
from recording_proxy import DATA, PREFIX, RecordingProxy, Tamper
from send_receive_support import (
    MiB,
    file_hash,
    random_file,
    size_of,
    start_receive,
    start_send,
    wait_until,
)

from confide.app.transfer_core import MAX_WINDOW
from confide.ui.progress import format_size

TRANSFER_TIMEOUT = 120.0
pytestmark = pytest.mark.timeout(2 * TRANSFER_TIMEOUT + 60)
"""Big transfers wait up to ``TRANSFER_TIMEOUT`` for their end, after writing and before
hashing their files: the suite's 120 s per test would cut that wait short."""
TAMPER_END = 20.0
"""Seconds within which the sender ends after the receiver saw a tampered chunk
(it is told at once; the resume window, 300 s by default, must not be waited out)."""


def test_a_cut_mid_transfer_resumes_without_resending_what_arrived(
    confide: Launcher, tmp_path: Path
) -> None:
    size = 96 * MiB
    source = tmp_path / "big.bin"
    digest = random_file(source, size)
    inbox = tmp_path / "in"
    inbox.mkdir()
    sender = start_send(confide, str(source))
    with FaultProxy(("127.0.0.1", sender.port)) as proxy:
        receiver = start_receive(confide, proxy.at, sender.code, inbox)
        proxy.wait_for(lambda c: c.to_client >= size // 3, timeout=TRANSFER_TIMEOUT)
        proxy.reset()
        before = proxy.counters().to_client  # nothing is forwarded between the cut and this
        assert before < size, "the transfer ended before the cut"
        assert receiver.wait(TRANSFER_TIMEOUT) == 0, receiver
        after = proxy.counters().to_client - before

    assert sender.proc.wait() == 0, sender.proc
    assert file_hash(inbox / "big.bin") == digest
    receiver.expect_err(r"^connection lost \(.*\): reconnecting$")
    receiver.expect_err(r"^reconnected: the transfer goes on$")
    assert after < size - before + MAX_WINDOW, (before, after)
    assert proxy.counters().accepted >= 2


def test_a_tampered_chunk_aborts_and_nothing_gets_the_final_name(
    confide: Launcher, tmp_path: Path, recording_proxy: Callable[..., RecordingProxy]
) -> None:
    source = tmp_path / "doc.bin"
    random_file(source, 4 * MiB)
    inbox = tmp_path / "in"
    inbox.mkdir()
    sender = start_send(confide, str(source))  # the default resume window
    tamper = Tamper("s2c", "flip", index=30, record_type=DATA, offset=PREFIX.size + 200, bit=5)
    proxy = recording_proxy(sender.port, tamper)
    receiver = start_receive(confide, proxy.at, sender.code, inbox)

    assert receiver.wait(TRANSFER_TIMEOUT) == 4, receiver
    receiver.expect_err(r"^doc\.bin: failed: a record failed authentication")
    receiver.expect_err(r"^confide: .*failed authentication")
    assert not (inbox / "doc.bin").exists()
    assert [name for name in os.listdir(inbox) if not name.endswith(".part")] == []
    assert sender.proc.wait(TAMPER_END) == 4, sender.proc  # not the 300 s resume window
    sender.proc.expect_err(r"^confide: the peer could not open what we sent \(.*authentication")
    assert "received everything" not in sender.proc.err
    assert [x for x in sender.proc.err_lines if x.startswith("confide:")] == [
        sender.proc.err_lines[-1]
    ]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs, mounted for the test (it runs as root) and unmounted after."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_stops_with_a_clear_line_and_keeps_the_part(
    confide: Launcher, tmp_path: Path, small_disk: Path
) -> None:
    first, second = tmp_path / "one.bin", tmp_path / "two.bin"
    random_file(first, 10 * MiB)  # each fits the free space when accepted; both do not
    random_file(second, 10 * MiB)
    sender = start_send(confide, str(first), str(second))
    receiver = start_receive(confide, sender.at, sender.code, small_disk)

    assert receiver.wait(TRANSFER_TIMEOUT) == 1, receiver
    receiver.expect_err(r"^(one|two)\.bin: failed: the disk is full.* \(kept .*\.part to resume\)$")
    assert "Traceback" not in receiver.err
    kept = [name for name in os.listdir(small_disk) if name.endswith(".part")]
    assert kept, os.listdir(small_disk)
    assert sender.proc.wait(TRANSFER_TIMEOUT) == 1, sender.proc
    sender.proc.expect_err(r"did not receive everything: .*disk is full")


def test_receive_resume_continues_a_part_after_the_sender_was_killed(
    confide: Launcher, tmp_path: Path
) -> None:
    size = 64 * MiB
    source = tmp_path / "big.bin"
    digest = random_file(source, size)
    inbox = tmp_path / "in"
    inbox.mkdir()
    part = inbox / "big.bin.part"
    sender = start_send(confide, str(source))
    receiver = start_receive(confide, sender.at, sender.code, inbox, "--resume-window", "0")
    wait_until(lambda: size_of(part) >= 8 * MiB, "the first 8 MiB", timeout=TRANSFER_TIMEOUT)
    sender.proc.kill()
    assert receiver.wait(TRANSFER_TIMEOUT) == 4, receiver
    receiver.expect_err(r"^big\.bin: failed: .*\(kept .*big\.bin\.part to resume\)$")
    kept = size_of(part)
    assert 0 < kept < size

    again = start_send(confide, str(source))
    resumed = start_receive(confide, again.at, again.code, inbox, "--resume")
    assert resumed.wait(TRANSFER_TIMEOUT) == 0, resumed
    assert again.proc.wait() == 0, again.proc
    resumed.expect_err(rf"^receiving big\.bin \(64\.0 MiB, resuming at {format_size(kept)}\)$")
    assert file_hash(inbox / "big.bin") == digest
    assert sorted(os.listdir(inbox)) == ["big.bin"]


@pytest.mark.parametrize("stopped", ["receive", "send"])
def test_ctrl_c_mid_transfer_is_one_line_and_keeps_the_part(
    confide: Launcher, tmp_path: Path, stopped: str
) -> None:
    size = 64 * MiB
    source = tmp_path / "big.bin"
    random_file(source, size)
    inbox = tmp_path / "in"
    inbox.mkdir()
    part = inbox / "big.bin.part"
    sender = start_send(confide, "--name", "alice", str(source))
    receiver = start_receive(confide, sender.at, sender.code, inbox, "--name", "bob")
    wait_until(lambda: size_of(part) >= 4 * MiB, "the first 4 MiB", timeout=TRANSFER_TIMEOUT)
    (receiver if stopped == "receive" else sender.proc).interrupt()

    it, other = (receiver, sender.proc) if stopped == "receive" else (sender.proc, receiver)
    assert it.wait() == 130, it
    assert it.err_lines[-1] == "confide: interrupted"
    if stopped == "receive":
        assert other.wait() == 1, other
        other.expect_err(r"^bob did not receive everything: interrupted$")
    else:
        assert other.wait() == 4, other
        other.expect_err(r"^big\.bin: failed: .*\(kept .*big\.bin\.part to resume\)$")
        other.expect_err(r"^confide: .*alice stopped: interrupted$")
    assert 0 < size_of(part) < size
    assert not (inbox / "big.bin").exists()
