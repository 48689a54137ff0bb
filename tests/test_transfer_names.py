"""The pure rules of a transfer: safe names, free names, link checks, offers, window, meter."""

from __future__ import annotations

import subprocess
import sys

import pytest

from confide.app.transfer_core import (
    ACK_EVERY,
    START_WINDOW,
    AckRhythm,
    Entry,
    Meter,
    OfferRefused,
    Window,
    manifest_of,
)
from confide.app.transfer_names import (
    MAX_NAME_BYTES,
    free_name,
    link_allowed,
    numbered,
    safe_member,
    safe_name,
)
from confide.protocol.messages import FILE_CHUNK, MAX_NICK, FileChunk, FileOffer, encode
from confide.protocol.records import MAX_MESSAGE


@pytest.mark.parametrize(
    ("offered", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("/abs", "abs"),
        ("C:\\Windows\\win.ini", "win.ini"),
        ("a\x1b[2Jb", "a[2Jb"),
        ("\u202etxt.exe", "txt.exe"),
        ("zero\u200bwidth\u2066.txt", "zerowidth.txt"),
        ("line\u2028break", "linebreak"),
        ("CON", "_CON"),
        ("nul.tar.gz", "_nul.tar.gz"),
        ("Com7", "_Com7"),
        ("lpt9.txt", "_lpt9.txt"),
        ("console", "console"),
        ("..", "file"),
        (".", "file"),
        ("", "file"),
        ("/", "file"),
        ("...hidden. ", "hidden"),
        ("  spaced  ", "spaced"),
        ("caf\u00e9 \u2603.txt", "caf\u00e9 \u2603.txt"),
    ],
)
def test_safe_name(offered: str, safe: str) -> None:
    assert safe_name(offered) == safe


def test_a_long_name_keeps_its_extension_within_the_byte_limit() -> None:
    name = safe_name("\u00e9" * 300 + ".tar")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert name.endswith("\u00e9.tar")
    assert safe_name("x" * 300) == "x" * MAX_NAME_BYTES
    long_ext = safe_name("a." + "b" * 300)
    assert len(long_ext.encode()) == MAX_NAME_BYTES


@pytest.mark.parametrize(
    ("member", "safe"),
    [
        ("a/b/c.txt", "a/b/c.txt"),
        ("x/../../evil", "x/evil"),
        ("../../evil", "evil"),
        ("/abs/evil", "abs/evil"),
        ("a//./b", "a/b"),
        ("a\\..\\b", "a/b"),
        ("CON/aux.txt", "_CON/_aux.txt"),
        ("..", ""),
    ],
)
def test_safe_member(member: str, safe: str) -> None:
    assert safe_member(member) == safe


def test_free_name_numbers_before_the_extension() -> None:
    taken = {"a.txt", "a (1).txt", "noext", "archive.tar.gz"}
    assert free_name("a.txt", taken.__contains__) == "a (2).txt"
    assert free_name("noext", taken.__contains__) == "noext (1)"
    assert free_name("archive.tar.gz", taken.__contains__) == "archive.tar (1).gz"
    assert free_name("b.txt", taken.__contains__) == "b.txt"
    assert numbered(".profile", 1) == ".profile (1)"


@pytest.mark.parametrize(
    ("link", "target", "allowed"),
    [
        ("l", "a.txt", True),
        ("sub/l", "../a.txt", True),
        ("sub/deep/l", "../../a.txt", True),
        ("sub/l", "../..", False),
        ("l", "..", False),
        ("l", "/etc", False),
        ("l", "\\\\server\\share", False),
        ("l", "C:/Windows", False),
        ("sub/l", "x/../../..", False),
        ("l", "a\x1bb", False),
        ("l", "", False),
        ("sub/l", "..", True),
        ("l", "other/inside", False),
        ("l", "other", True),
    ],
)
def test_link_allowed(link: str, target: str, allowed: bool) -> None:
    assert link_allowed(link, target, {"l", "sub/l", "sub/deep/l", "other"}) is allowed


def offer(paths: list[str], sizes: list[int], kinds: list[str], targets: list[str]) -> FileOffer:
    return FileOffer(1, "", "top", sum(sizes), paths, sizes, kinds, targets)


def test_manifest_of_a_single_file_and_a_tree() -> None:
    one = manifest_of(FileOffer(1, "", "../x.bin", 5, [""], [5], ["file"], [""]))
    assert one.single
    assert (one.name, one.size, one.files) == ("x.bin", 5, 1)
    tree = manifest_of(
        offer(
            ["d", "d/f", "d/l", "e"],
            [0, 3, 0, 0],
            ["dir", "file", "link", "file"],
            [""] * 2 + ["f", "ignored"],
        )
    )
    assert not tree.single
    assert tree.entries == (
        Entry("d", "dir", 0),
        Entry("d/f", "file", 3),
        Entry("d/l", "link", 0, "f"),
        Entry("e", "file", 0),
    )
    assert tree.links == {"d/l"}
    assert tree.files == 2


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (FileOffer(1, "", "a", 1, ["", "b"], [1], ["file"], [""]), "differ in length"),
        (FileOffer(1, "", "a", 2, [""], [1], ["file"], [""]), "do not add up"),
        (FileOffer(1, "", "a", -1, [""], [-1], ["file"], [""]), "negative"),
        (FileOffer(1, "", "a", 0, [""], [0], ["dir"], [""]), "must be a file"),
        (offer(["a", "a"], [0, 0], ["dir", "dir"], ["", ""]), "both called a"),
        (offer(["a", "a/b"], [1, 1], ["file", "file"], ["", ""]), "inside a file or a link"),
        (offer(["l", "l/x/y"], [0, 1], ["link", "file"], [".", ""]), "inside a file or a link"),
    ],
)
def test_manifest_of_refuses_malformed_offers(bad: FileOffer, why: str) -> None:
    with pytest.raises(OfferRefused, match=why):
        manifest_of(bad)


def test_the_window_starts_at_one_mib_and_checks_acks() -> None:
    window = Window(size=10 * START_WINDOW)
    window.start(0, now=0.0)
    window.sent_chunk(START_WINDOW - 1, now=0.0)
    assert window.open()
    window.sent_chunk(1, now=0.0)
    assert not window.open()
    assert window.ack(1, now=0.0)
    assert window.open()
    assert not window.ack(0, now=0.0), "an ack never goes back"
    assert not window.ack(START_WINDOW + 1, now=0.0), "an ack never passes what was sent"
    window.sent = window.size
    assert not window.open()


def test_the_receiver_acks_every_128_kib_but_never_the_end_before_the_check() -> None:
    rhythm = AckRhythm(size=3 * ACK_EVERY)
    assert not rhythm.due(ACK_EVERY - 1)
    assert rhythm.due(ACK_EVERY)
    assert not rhythm.due(ACK_EVERY + 5)
    assert rhythm.due(2 * ACK_EVERY + 5)
    assert not rhythm.due(3 * ACK_EVERY)


def test_the_meter_paces_events_and_estimates() -> None:
    meter = Meter(start_time=10.0, start_done=100, size=1100)
    assert meter.due(10.0)
    assert not meter.due(10.1)
    assert meter.due(10.25)
    assert meter.rate(10.0, 100) == 0.0
    assert meter.eta(10.0, 100) is None
    assert meter.rate(12.0, 300) == 100.0
    assert meter.eta(12.0, 300) == 8.0


def test_the_largest_chunk_fits_one_record() -> None:
    biggest = FileChunk(2**63 - 1, "\U0001f600" * MAX_NICK, 2**63 - 1, bytes(FILE_CHUNK))
    assert len(encode(biggest)) <= MAX_MESSAGE


def test_the_pure_transfer_modules_load_no_io_module() -> None:
    probe = (
        "import sys, confide.app.transfer_core, confide.app.transfer_names\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    io = ("asyncio", "socket", "textual", "threading", "subprocess", "selectors", "ssl")
    assert [name for name in loaded if name.split(".")[0] in io] == []
