"""The transfer engine end to end: two ``Transfers`` over a ``memory_link_pair``.

Each side pumps its link's messages into its engine's ``handle``; files are
real files under ``tmp_path`` and must arrive byte for byte.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest
from polling import until
from transfer_sides import (
    Side,
    next_of,
    offered_and_accepted,
    pump,
    run,
    run_raw,
    side,
    single,
)

from confide.app.events import (
    AppEvent,
    Notice,
    TransferDone,
    TransferFailed,
    TransferOffered,
    TransferProgress,
    TransferStarted,
)
from confide.app.link import MemoryLink, memory_link_pair
from confide.app.transfer import Transfers, link_flow
from confide.errors import UsageError
from confide.protocol import messages as m


def test_a_file_arrives_byte_identical(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    content = os.urandom(9 * 1024 * 1024 + 123)
    source.write_bytes(content)

    async def scenario(alice: Side, bob: Side) -> None:
        (ref,) = alice.engine.offer(source)
        await until(bob.engine.pending, "the offer")
        (offered,) = bob.engine.pending()
        assert (offered.name, offered.size, offered.incoming) == ("data.bin", len(content), True)
        assert not (tmp_path / "bob").exists(), "nothing is written before accept"
        bob.engine.accept()
        await until(lambda: bob.of(TransferDone) and alice.of(TransferDone), "both done")
        (done,) = bob.of(TransferDone)
        assert isinstance(done, TransferDone)
        assert Path(done.path) == tmp_path / "bob" / "data.bin"
        assert Path(done.path).read_bytes() == content
        assert not list((tmp_path / "bob").glob("*.part"))
        assert alice.of(TransferOffered)
        assert bob.of(TransferStarted)
        assert alice.of(TransferFailed) == bob.of(TransferFailed) == []
        last = bob.of(TransferProgress)[-1]
        assert isinstance(last, TransferProgress)
        assert last.done == len(content)
        assert ref.id == 1
        assert alice.engine.active() == bob.engine.active() == []
        chunks = [msg for msg in alice.sent if isinstance(msg, m.FileChunk)]
        assert max(len(chunk.data) for chunk in chunks) <= m.FILE_CHUNK

    run(tmp_path, scenario)


def test_a_tree_arrives_with_its_folders_empty_file_unicode_name_and_inner_link(
    tmp_path: Path,
) -> None:
    top = tmp_path / "album"
    (top / "sub" / "deep").mkdir(parents=True)
    (top / "empty-dir").mkdir()
    (top / "empty.txt").write_bytes(b"")
    (top / "sub" / "deep" / "song.bin").write_bytes(os.urandom(200_000))
    (top / "caf\u00e9 \u2603.txt").write_text("snow")
    (top / "sub" / "inner").symlink_to("../empty.txt")
    (top / "sub" / "to-sibling").symlink_to("deep/song.bin")
    (top / "etc").symlink_to("/etc")
    (top / "sub" / "up").symlink_to("../..")

    async def scenario(alice: Side, bob: Side) -> None:
        alice.engine.offer(top)
        await until(bob.engine.pending, "the offer")
        (offered,) = bob.engine.pending()
        assert offered.files == 3
        bob.engine.accept()
        await until(lambda: bob.of(TransferDone) and alice.of(TransferDone), "both done")
        got = tmp_path / "bob" / "album"
        assert (got / "empty.txt").read_bytes() == b""
        assert (got / "empty-dir").is_dir()
        assert (got / "caf\u00e9 \u2603.txt").read_text() == "snow"
        song = (top / "sub" / "deep" / "song.bin").read_bytes()
        assert (got / "sub" / "deep" / "song.bin").read_bytes() == song
        assert os.readlink(got / "sub" / "inner") == "../empty.txt"
        assert os.readlink(got / "sub" / "to-sibling") == "deep/song.bin"
        assert not os.path.lexists(got / "etc")
        assert not os.path.lexists(got / "sub" / "up")
        told = sorted(event.text for event in bob.of(Notice) if isinstance(event, Notice))
        assert len(told) == 2
        assert "album: the link etc to '/etc' leads outside" in told[0]
        assert "album: the link sub/up to '../..' leads outside" in told[1]
        assert bob.of(TransferFailed) == []

    run(tmp_path, scenario)


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("new")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "notes.txt").write_text("old")
    (tmp_path / "bob" / "notes (1).txt").write_text("older")

    async def scenario(alice: Side, bob: Side) -> None:
        alice.engine.offer(source)
        await until(bob.engine.pending, "the offer")
        bob.engine.accept(resume=False)
        await until(lambda: bob.of(TransferDone), "done")
        assert (tmp_path / "bob" / "notes.txt").read_text() == "old"
        assert (tmp_path / "bob" / "notes (1).txt").read_text() == "older"
        assert (tmp_path / "bob" / "notes (2).txt").read_text() == "new"

    run(tmp_path, scenario)


def _resume(tmp_path: Path, kept: bytes, content: bytes) -> list[m.FileChunk]:
    source = tmp_path / "big.bin"
    source.write_bytes(content)
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "big.bin.part").write_bytes(kept)
    chunks: list[m.FileChunk] = []

    async def scenario(alice: Side, bob: Side) -> None:
        alice.engine.offer(source)
        await until(bob.engine.pending, "the offer")
        bob.engine.accept()
        await until(lambda: bob.of(TransferDone) and alice.of(TransferDone), "both done")
        assert (tmp_path / "bob" / "big.bin").read_bytes() == content
        assert not (tmp_path / "bob" / "big.bin.part").exists()
        chunks.extend(msg for msg in alice.sent if isinstance(msg, m.FileChunk))
        (started,) = bob.of(TransferStarted)
        assert isinstance(started, TransferStarted)
        assert started.path == str(tmp_path / "bob" / "big.bin.part")

    run(tmp_path, scenario)
    return chunks


def test_resume_from_a_part_with_the_right_prefix_sends_only_the_rest(tmp_path: Path) -> None:
    content = os.urandom(6 * 1024 * 1024)
    kept = 2 * 1024 * 1024 + 17
    chunks = _resume(tmp_path, content[:kept], content)
    assert chunks[0].offset == kept
    assert sum(len(chunk.data) for chunk in chunks) == len(content) - kept


def test_resume_from_a_part_with_a_wrong_prefix_starts_over(tmp_path: Path) -> None:
    content = os.urandom(3 * 1024 * 1024)
    chunks = _resume(tmp_path, os.urandom(1024 * 1024), content)
    assert chunks[0].offset == 0
    assert sum(len(chunk.data) for chunk in chunks) == len(content)


def test_the_flow_control_is_awaited_before_every_chunk(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(1024 * 1024))

    async def main() -> None:
        a, b = memory_link_pair()
        waits: list[str] = []

        async def flow(peer: str) -> None:
            waits.append(peer)

        sent: list[m.Message] = []

        def send(message: m.Message) -> None:
            sent.append(message)
            a.send(message)

        events: list[AppEvent] = []
        alice = Side(Transfers(send, events.append, downloads=tmp_path, flow=flow), a, events)
        bob = side(b, tmp_path / "bob", 1)
        tasks = [asyncio.create_task(t) for t in (pump(alice), pump(bob))]
        tasks += [asyncio.create_task(alice.engine.run()), asyncio.create_task(bob.engine.run())]
        try:
            alice.engine.offer(source)
            await until(bob.engine.pending, "the offer")
            bob.engine.accept()
            await until(lambda: alice.of(TransferDone), "done")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        chunks = [msg for msg in sent if isinstance(msg, m.FileChunk)]
        assert len(waits) == len(chunks)  # the FileDone goes right after the last chunk
        assert set(waits) == {""}

    asyncio.run(main())


def test_a_declined_offer_tells_the_sender_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"x" * 1000)

    async def scenario(alice: Side, bob: Side) -> None:
        alice.engine.offer(source)
        await until(bob.engine.pending, "the offer")
        bob.engine.decline()
        await until(lambda: alice.of(TransferFailed), "the sender told")
        (failed,) = alice.of(TransferFailed)
        assert isinstance(failed, TransferFailed)
        assert failed.reason == "declined"
        assert not (tmp_path / "bob").exists()
        assert alice.engine.active() == bob.engine.pending() == []

    run(tmp_path, scenario)


def test_a_tree_resumes_after_its_complete_files_and_the_partial_one(tmp_path: Path) -> None:
    top = tmp_path / "top"
    (top / "a").mkdir(parents=True)
    first, second, third = os.urandom(700_000), os.urandom(900_000), os.urandom(300_000)
    (top / "a" / "1.bin").write_bytes(first)
    (top / "a" / "2.bin").write_bytes(second)
    (top / "z.bin").write_bytes(third)
    part = tmp_path / "bob" / "top.part"
    (part / "a").mkdir(parents=True)
    (part / "a" / "1.bin").write_bytes(first)
    (part / "a" / "2.bin").write_bytes(second[:1000])

    async def scenario(alice: Side, bob: Side) -> None:
        alice.engine.offer(top)
        await until(bob.engine.pending, "the offer")
        bob.engine.accept()
        await until(lambda: bob.of(TransferDone) and alice.of(TransferDone), "both done")
        got = tmp_path / "bob" / "top"
        assert (got / "a" / "1.bin").read_bytes() == first
        assert (got / "a" / "2.bin").read_bytes() == second
        assert (got / "z.bin").read_bytes() == third
        chunks = [msg for msg in alice.sent if isinstance(msg, m.FileChunk)]
        assert chunks[0].offset == len(first) + 1000
        assert sum(len(chunk.data) for chunk in chunks) == len(second) - 1000 + len(third)
        assert max(len(chunk.data) for chunk in chunks) <= m.FILE_CHUNK

    run(tmp_path, scenario)
    assert not part.exists()


def test_an_offer_to_everyone_streams_to_each_member_who_accepts(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    content = os.urandom(500_000)
    source.write_bytes(content)

    async def scenario(alice: Side, raw: MemoryLink) -> None:
        (ref,) = alice.engine.offer(source)
        offer = await next_of(raw, m.FileOffer)
        assert isinstance(offer, m.FileOffer)
        assert offer.peer == ""
        raw.send(m.FileAccept(ref.id, "bob", 0, b""))
        raw.send(m.FileAccept(ref.id, "carol", 0, b""))
        got: dict[str, bytearray] = {"bob": bytearray(), "carol": bytearray()}
        finished: set[str] = set()
        while finished != {"bob", "carol"}:
            message = await raw.receive()
            if isinstance(message, m.FileChunk):
                assert message.offset == len(got[message.peer])
                got[message.peer] += message.data
            elif isinstance(message, m.FileDone):
                assert message.digest == hashlib.sha256(content).digest()
                finished.add(message.peer)
                raw.send(m.FileAck(ref.id, message.peer, len(content)))
        assert got == {"bob": content, "carol": content}
        await until(lambda: len(alice.of(TransferDone)) == 2, "two done")
        peers = {e.ref.peer for e in alice.of(TransferDone) if isinstance(e, TransferDone)}
        assert peers == {"bob", "carol"}
        assert alice.engine.active() == [ref], "the offer stays open for later members"
        assert alice.engine.cancel(ref) == ref
        assert alice.engine.active() == []

    run_raw(tmp_path, scenario)


def test_the_sender_cancelling_mid_way_leaves_the_receiver_its_part(tmp_path: Path) -> None:
    async def scenario(bob: Side, raw: MemoryLink) -> None:
        await offered_and_accepted(bob, raw, single(1, "f", 1000))
        raw.send(m.FileChunk(1, "", 0, b"z" * 300))
        raw.send(m.FileCancel(1, "", "cancelled by the sender"))
        await until(lambda: bob.of(TransferFailed), "the failure")
        (failed,) = bob.of(TransferFailed)
        assert isinstance(failed, TransferFailed)
        assert failed.reason == "the sender stopped: cancelled by the sender"
        assert failed.kept == str(tmp_path / "bob" / "f.part")

    run_raw(tmp_path, scenario)
    assert (tmp_path / "bob" / "f.part").read_bytes() == b"z" * 300


def test_a_receiver_that_acks_too_much_or_accepts_nothing_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(8 * 1024 * 1024))

    async def scenario(alice: Side, raw: MemoryLink) -> None:
        raw.send(m.FileAccept(77, "", 0, b""))
        cancel = await next_of(raw, m.FileCancel)
        assert isinstance(cancel, m.FileCancel)
        assert (cancel.id, cancel.reason) == (77, "no such offer")
        (ref,) = alice.engine.offer(source)
        raw.send(m.FileAccept(ref.id, "", 0, b""))
        await next_of(raw, m.FileChunk)
        raw.send(m.FileAck(ref.id, "", 7 * 1024 * 1024))
        cancel = await next_of(raw, m.FileCancel)
        assert isinstance(cancel, m.FileCancel)
        (failed,) = alice.of(TransferFailed)
        assert isinstance(failed, TransferFailed)
        assert "acknowledged bytes never sent" in failed.reason

    run_raw(tmp_path, scenario)


def test_what_cannot_be_offered_or_answered_is_a_usage_error(tmp_path: Path) -> None:
    crowd = tmp_path / "crowd"
    crowd.mkdir()
    for n in range(3000):
        (crowd / f"file number {n:04}.txt").touch()

    async def scenario(bob: Side, raw: MemoryLink) -> None:
        with pytest.raises(UsageError, match="cannot send"):
            bob.engine.offer(tmp_path / "missing")
        with pytest.raises(UsageError, match=r"too many entries \(3000\) for one offer"):
            bob.engine.offer(crowd)
        assert bob.engine.active() == []
        with pytest.raises(UsageError, match="no offer to accept"):
            bob.engine.accept()
        with pytest.raises(UsageError, match="no transfer to cancel"):
            bob.engine.cancel()
        raw.send(single(1, "a", 1))
        raw.send(single(2, "b", 1))
        await until(lambda: len(bob.engine.pending()) == 2, "two offers")
        with pytest.raises(UsageError, match="several offers"):
            bob.engine.accept()
        second = bob.engine.pending()[1]
        assert bob.engine.decline(second) == second
        assert [ref.name for ref in bob.engine.pending()] == ["a"]

    run_raw(tmp_path, scenario)


def test_two_offers_of_one_name_at_once_get_two_parts_and_two_names(tmp_path: Path) -> None:
    async def scenario(bob: Side, raw: MemoryLink) -> None:
        raw.send(m.FileOffer(1, "dave", "same.txt", 4, [""], [4], ["file"], [""]))
        raw.send(m.FileOffer(1, "carol", "same.txt", 5, [""], [5], ["file"], [""]))
        await until(lambda: len(bob.engine.pending()) == 2, "two offers")
        for ref in bob.engine.pending():
            bob.engine.accept(ref)
        started = [e.path for e in bob.of(TransferStarted) if isinstance(e, TransferStarted)]
        folder = tmp_path / "bob"
        assert started == [str(folder / "same.txt.part"), str(folder / "same (1).txt.part")]
        for peer, data in (("carol", b"carol"), ("dave", b"dave")):
            raw.send(m.FileChunk(1, peer, 0, data))
            raw.send(m.FileDone(1, peer, hashlib.sha256(data).digest()))
            done = len(bob.of(TransferDone)) + 1
            await until(lambda: len(bob.of(TransferDone)) == done, f"{peer}'s file")  # noqa: B023
        assert (folder / "same.txt").read_bytes() == b"carol"
        assert (folder / "same (1).txt").read_bytes() == b"dave"

    run_raw(tmp_path, scenario)


def test_an_offer_goes_under_the_name_the_user_gave(tmp_path: Path) -> None:
    (tmp_path / "real.bin").write_bytes(b"x")
    (tmp_path / "nice name.bin").symlink_to("real.bin")
    (tmp_path / "sub").mkdir()

    async def scenario(alice: Side, raw: MemoryLink) -> None:
        (ref,) = alice.engine.offer(tmp_path / "nice name.bin")
        assert (ref.name, ref.size) == ("nice name.bin", 1)
        (up,) = alice.engine.offer(tmp_path / "sub" / "..")
        assert up.name == tmp_path.name
        assert up.files == 1  # real.bin; the link is a link

    run_raw(tmp_path, scenario)


class DrainingLink(MemoryLink):
    """A memory link whose ``drain`` empties the queue one chunk at a time, or not at all."""

    def __init__(self, *, shrinks: bool) -> None:
        super().__init__(asyncio.Queue(), asyncio.Queue())
        self.shrinks = shrinks
        self.drains = 0

    async def drain(self) -> None:
        self.drains += 1
        await asyncio.sleep(0)
        if self.shrinks:
            self.queued = max(0, self.queued - m.FILE_CHUNK)


def test_link_flow_drains_until_less_than_a_chunk_is_queued_and_never_spins() -> None:
    async def main() -> None:
        busy = DrainingLink(shrinks=True)
        busy.queued = 3 * m.FILE_CHUNK + 1
        await asyncio.wait_for(link_flow(lambda _peer: busy)(""), 5)
        assert (busy.drains, busy.queued) == (3, 1)
        stuck = DrainingLink(shrinks=False)  # like a link that is down: drain cannot help
        stuck.queued = 2 * m.FILE_CHUNK
        await asyncio.wait_for(link_flow(lambda _peer: stuck)(""), 5)
        assert stuck.drains == 1
        idle = DrainingLink(shrinks=True)
        idle.queued = m.FILE_CHUNK - 1
        await link_flow(lambda _peer: idle)("")
        assert idle.drains == 0

    asyncio.run(main())


def test_a_kept_tree_part_loses_what_the_new_offer_does_not_hold(tmp_path: Path) -> None:
    top = tmp_path / "top"
    top.mkdir()
    (top / "a.txt").write_text("first")
    (top / "b.txt").write_text("second")
    part = tmp_path / "bob" / "top.part"
    (part / "old" / "deeper").mkdir(parents=True)
    (part / "a.txt").write_text("fir")
    (part / "stale.txt").write_text("not sent")
    (part / "old" / "deeper" / "x").write_text("not sent either")
    (part / "lnk").symlink_to("/etc")

    async def scenario(alice: Side, bob: Side) -> None:
        alice.engine.offer(top)
        await until(bob.engine.pending, "the offer")
        bob.engine.accept()
        await until(lambda: bob.of(TransferDone), "done")
        (started,) = bob.of(TransferStarted)
        assert isinstance(started, TransferStarted)
        assert started.offset == 3, "the kept prefix was used"

    run(tmp_path, scenario)
    got = tmp_path / "bob" / "top"
    assert sorted(os.listdir(got)) == ["a.txt", "b.txt"]
    assert (got / "a.txt").read_text() == "first"


def test_a_downloads_folder_that_is_a_link_is_fine(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "bob").symlink_to("elsewhere")
    single_file = tmp_path / "one.txt"
    single_file.write_text("one")
    folder = tmp_path / "tree"
    (folder / "in").mkdir(parents=True)
    (folder / "in" / "two.txt").write_text("two")

    async def scenario(alice: Side, bob: Side) -> None:
        for offered in (single_file, folder):
            alice.engine.offer(offered)
            await until(bob.engine.pending, "the offer")
            bob.engine.accept()
        await until(lambda: len(bob.of(TransferDone)) == 2, "both done")
        assert bob.of(TransferFailed) == []

    run(tmp_path, scenario)
    assert (tmp_path / "elsewhere" / "one.txt").read_text() == "one"
    assert (tmp_path / "elsewhere" / "tree" / "in" / "two.txt").read_text() == "two"


def test_an_empty_file_arrives(tmp_path: Path) -> None:
    (tmp_path / "empty").touch()

    async def scenario(alice: Side, bob: Side) -> None:
        alice.engine.offer(tmp_path / "empty")
        await until(bob.engine.pending, "the offer")
        bob.engine.accept()
        await until(lambda: bob.of(TransferDone) and alice.of(TransferDone), "both done")

    run(tmp_path, scenario)
    assert (tmp_path / "bob" / "empty").read_bytes() == b""


def test_a_complete_part_is_only_verified_and_renamed(tmp_path: Path) -> None:
    content = os.urandom(200_000)
    chunks = _resume(tmp_path, content, content)
    assert chunks == []
