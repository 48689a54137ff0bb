"""A hostile or broken sender, played by hand against a real receiving engine.

Each hostile offer is tried on its own: whatever the names, the data lands
under the receiver's folder with a safe name and nothing else on disk
changes. Broken streams (a chunk out of place, too much data, a wrong
digest, data nobody accepted) fail the transfer with a ``FileCancel`` back,
never an exception out of ``handle``, and nothing gets a final name.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from polling import until
from transfer_sides import Side, next_of, offered_and_accepted, run_raw, send_stream, single

from confide.app.events import TransferDone, TransferFailed, TransferOffered
from confide.app.link import MemoryLink
from confide.protocol import messages as m


def everything_under(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


@pytest.mark.parametrize(
    ("offered", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("/abs", "abs"),
        ("a\x1b[2Jb", "a[2Jb"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("x" * 300 + ".txt", "x" * 196 + ".txt"),
        ("..\\..\\win.ini", "win.ini"),
        ("evil\u202egnp.exe", "evilgnp.exe"),
        ("..", "file"),
    ],
)
def test_a_hostile_name_lands_safely_in_the_folder(tmp_path: Path, offered: str, kept: str) -> None:
    data = b"payload"
    before = everything_under(tmp_path)

    async def scenario(bob: Side, raw: MemoryLink) -> None:
        await offered_and_accepted(bob, raw, single(7, offered, len(data)))
        send_stream(raw, 7, data)
        await until(lambda: bob.of(TransferDone), "done")
        (done,) = bob.of(TransferDone)
        assert isinstance(done, TransferDone)
        assert Path(done.path) == tmp_path / "bob" / kept
        assert Path(done.path).read_bytes() == data

    run_raw(tmp_path, scenario)
    assert everything_under(tmp_path) - before == {"bob", f"bob/{kept}"}


def tree(offer_id: int, entries: list[tuple[str, str, int, str]], name: str = "top") -> m.FileOffer:
    paths, kinds, sizes, targets = (list(column) for column in zip(*entries, strict=True))
    return m.FileOffer(offer_id, "", name, sum(sizes), paths, sizes, kinds, targets)


def test_tree_members_that_try_to_escape_stay_inside(tmp_path: Path) -> None:
    offer = tree(
        3,
        [
            ("x", "dir", 0, ""),
            ("x/../../evil", "file", 3, ""),
            ("../../evil2", "file", 3, ""),
            ("/abs/evil3", "file", 3, ""),
            ("etc", "link", 0, "/etc"),
            ("up", "link", 0, "../.."),
            ("x/back", "link", 0, "../../../tmp"),
            ("x/fine", "link", 0, "../evil2"),
        ],
        name="../top",
    )

    async def scenario(bob: Side, raw: MemoryLink) -> None:
        await offered_and_accepted(bob, raw, offer)
        send_stream(raw, 3, b"onetwothe")
        await until(lambda: bob.of(TransferDone), "done")

    run_raw(tmp_path, scenario)
    assert everything_under(tmp_path) == {
        "bob",
        "bob/top",
        "bob/top/x",
        "bob/top/x/evil",
        "bob/top/evil2",
        "bob/top/abs",
        "bob/top/abs/evil3",
        "bob/top/x/fine",
    }
    assert (tmp_path / "bob" / "top" / "x" / "evil").read_bytes() == b"one"
    assert os.readlink(tmp_path / "bob" / "top" / "x" / "fine") == "../evil2"


@pytest.mark.parametrize(
    ("entries", "why"),
    [
        ([("a", "link", 0, "."), ("a/l", "link", 0, "..")], "inside a file or a link"),
        ([("f", "file", 1, ""), ("f/g", "file", 1, "")], "inside a file or a link"),
        ([("a", "dir", 0, ""), ("./a", "dir", 0, "")], "two entries are both called a"),
        ([("..", "file", 1, "")], "no usable name"),
        ([("a", "fifo", 0, "")], "unknown kind"),
        ([("a", "dir", 5, "")], "has a size"),
    ],
)
def test_a_malformed_tree_is_refused_before_anything_is_written(
    tmp_path: Path, entries: list[tuple[str, str, int, str]], why: str
) -> None:
    async def scenario(bob: Side, raw: MemoryLink) -> None:
        raw.send(tree(5, entries))
        cancel = await next_of(raw, m.FileCancel)
        assert isinstance(cancel, m.FileCancel)
        assert cancel.id == 5
        assert why in cancel.reason
        (failed,) = bob.of(TransferFailed)
        assert isinstance(failed, TransferFailed)
        assert why in failed.reason
        assert bob.engine.pending() == []
        assert bob.of(TransferOffered) == []

    run_raw(tmp_path, scenario)
    assert not (tmp_path / "bob").exists()


def test_offers_whose_lists_or_sizes_disagree_are_refused(tmp_path: Path) -> None:
    async def scenario(bob: Side, raw: MemoryLink) -> None:
        raw.send(m.FileOffer(1, "", "a", 1, ["", "b"], [1], ["file"], [""]))
        raw.send(m.FileOffer(2, "", "a", 10, [""], [3], ["file"], [""]))
        raw.send(m.FileOffer(3, "", "a", -1, [""], [-1], ["file"], [""]))
        await until(lambda: len(bob.of(TransferFailed)) == 3, "three refusals")
        reasons = [e.reason for e in bob.of(TransferFailed) if isinstance(e, TransferFailed)]
        assert "differ in length" in reasons[0]
        assert "do not add up" in reasons[1]
        assert "negative" in reasons[2]

    run_raw(tmp_path, scenario)
    assert not (tmp_path / "bob").exists()


async def refused_chunk(bob: Side, raw: MemoryLink, chunk: m.FileChunk, why: str) -> None:
    raw.send(chunk)
    cancel = await next_of(raw, m.FileCancel)
    assert isinstance(cancel, m.FileCancel)
    assert cancel.id == chunk.id
    failed = [e for e in bob.of(TransferFailed) if isinstance(e, TransferFailed)]
    assert [why in e.reason for e in failed] == [True]
    assert bob.engine.active() == []


def test_a_chunk_at_the_wrong_offset_fails_the_transfer(tmp_path: Path) -> None:
    async def scenario(bob: Side, raw: MemoryLink) -> None:
        await offered_and_accepted(bob, raw, single(1, "f", 100))
        raw.send(m.FileChunk(1, "", 0, b"a" * 10))
        await refused_chunk(bob, raw, m.FileChunk(1, "", 20, b"b" * 10), "wrong offset")

    run_raw(tmp_path, scenario)
    assert everything_under(tmp_path) == {"bob", "bob/f.part"}


def test_a_chunk_past_the_size_fails_the_transfer(tmp_path: Path) -> None:
    async def scenario(bob: Side, raw: MemoryLink) -> None:
        await offered_and_accepted(bob, raw, single(1, "f", 10))
        await refused_chunk(bob, raw, m.FileChunk(1, "", 0, b"a" * 11), "more than it offered")

    run_raw(tmp_path, scenario)
    assert not (tmp_path / "bob" / "f").exists()


def test_a_chunk_for_an_unknown_or_unaccepted_offer_is_refused(tmp_path: Path) -> None:
    async def scenario(bob: Side, raw: MemoryLink) -> None:
        raw.send(m.FileChunk(42, "", 0, b"data"))
        cancel = await next_of(raw, m.FileCancel)
        assert isinstance(cancel, m.FileCancel)
        assert cancel.id == 42
        raw.send(single(9, "f", 4))
        await until(bob.engine.pending, "the offer")
        await refused_chunk(bob, raw, m.FileChunk(9, "", 0, b"data"), "before")

    run_raw(tmp_path, scenario)
    assert not (tmp_path / "bob").exists()


def test_a_digest_mismatch_leaves_no_final_file_and_no_part(tmp_path: Path) -> None:
    data = os.urandom(300_000)

    async def scenario(bob: Side, raw: MemoryLink) -> None:
        await offered_and_accepted(bob, raw, single(4, "f.bin", len(data)))
        send_stream(raw, 4, data, digest=hashlib.sha256(b"other").digest())
        cancel = await next_of(raw, m.FileCancel)
        assert isinstance(cancel, m.FileCancel)
        (failed,) = bob.of(TransferFailed)
        assert isinstance(failed, TransferFailed)
        assert "did not match its hash" in failed.reason
        assert failed.kept == ""

    run_raw(tmp_path, scenario)
    assert everything_under(tmp_path) == {"bob"}


def test_too_little_free_space_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    async def scenario(bob: Side, raw: MemoryLink) -> None:
        raw.send(single(1, "huge", 1 << 60))
        await until(bob.engine.pending, "the offer")
        bob.engine.accept()
        cancel = await next_of(raw, m.FileCancel)
        assert isinstance(cancel, m.FileCancel)
        (failed,) = bob.of(TransferFailed)
        assert isinstance(failed, TransferFailed)
        assert f"not enough free space in {tmp_path / 'bob'}: {1 << 60} bytes needed" in (
            failed.reason
        )

    run_raw(tmp_path, scenario)
    assert not (tmp_path / "bob").exists()


def test_close_fails_an_active_transfer_and_keeps_the_part(tmp_path: Path) -> None:
    async def scenario(bob: Side, raw: MemoryLink) -> None:
        await offered_and_accepted(bob, raw, single(1, "f", 100))
        raw.send(m.FileChunk(1, "", 0, b"a" * 40))
        part = tmp_path / "bob" / "f.part"
        await until(lambda: part.exists() and part.stat().st_size == 40, "40 bytes written")
        bob.engine.close("connection lost")
        (failed,) = bob.of(TransferFailed)
        assert isinstance(failed, TransferFailed)
        assert failed.reason == "connection lost"
        assert failed.kept == str(tmp_path / "bob" / "f.part")
        assert bob.engine.active() == []

    run_raw(tmp_path, scenario)
    assert (tmp_path / "bob" / "f.part").read_bytes() == b"a" * 40
    assert not (tmp_path / "bob" / "f").exists()


def test_closing_for_one_peer_leaves_the_others_going(tmp_path: Path) -> None:
    async def scenario(bob: Side, raw: MemoryLink) -> None:
        raw.send(m.FileOffer(1, "dave", "d.bin", 10, [""], [10], ["file"], [""]))
        raw.send(m.FileOffer(1, "carol", "c.bin", 10, [""], [10], ["file"], [""]))
        await until(lambda: len(bob.engine.pending()) == 2, "two offers")
        for ref in bob.engine.pending():
            bob.engine.accept(ref)
        raw.send(m.FileChunk(1, "dave", 0, b"d" * 4))
        raw.send(m.FileChunk(1, "carol", 0, b"c" * 4))
        part = tmp_path / "bob" / "c.bin.part"
        await until(lambda: part.exists() and part.stat().st_size == 4, "carol's bytes")
        bob.engine.close("dave left", peer="dave")
        (failed,) = bob.of(TransferFailed)
        assert isinstance(failed, TransferFailed)
        assert (failed.ref.peer, failed.reason) == ("dave", "dave left")
        assert failed.kept == str(tmp_path / "bob" / "d.bin.part")
        assert [ref.peer for ref in bob.engine.active()] == ["carol"]
        raw.send(m.FileChunk(1, "carol", 4, b"c" * 6))
        raw.send(m.FileDone(1, "carol", hashlib.sha256(b"c" * 10).digest()))
        await until(lambda: bob.of(TransferDone), "carol's file")

    run_raw(tmp_path, scenario)
    assert (tmp_path / "bob" / "c.bin").read_bytes() == b"c" * 10
