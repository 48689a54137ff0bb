"""A disk that fills up mid-transfer: a real 2 MiB tmpfs, mounted by the test (run as root).

The offer fits when it is accepted; then the test fills the disk and the
stream runs into ``ENOSPC``. The transfer must stop with a plain "disk is
full" line, tell the sender, and keep the ``.part`` (with what fitted) for
a resume; nothing gets the final name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import until
from transfer_sides import Side, next_of, run_raw, send_stream, single

from confide.app.events import TransferFailed
from confide.app.link import MemoryLink
from confide.protocol import messages as m

MIB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs at ``tmp_path/small``, unmounted afterwards."""
    where = tmp_path / "small"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_a_full_disk_stops_the_transfer_and_keeps_the_part(
    tmp_path: Path, small_disk: Path
) -> None:
    data = os.urandom(MIB)

    async def scenario(bob: Side, raw: MemoryLink) -> None:
        raw.send(single(1, "f.bin", len(data)))
        await until(bob.engine.pending, "the offer")
        bob.engine.accept(folder=small_disk)
        accept = await next_of(raw, m.FileAccept)
        assert isinstance(accept, m.FileAccept)
        assert accept.offset == 0
        free = shutil.disk_usage(small_disk).free
        (small_disk / "filler").write_bytes(b"\0" * (free - MIB // 2))
        send_stream(raw, 1, data)
        cancel = await next_of(raw, m.FileCancel)
        assert isinstance(cancel, m.FileCancel)
        assert cancel.reason == "the receiver's disk is full"
        (failed,) = bob.of(TransferFailed)
        assert isinstance(failed, TransferFailed)
        assert failed.reason.startswith("the disk is full")
        assert failed.kept == str(small_disk / "f.bin.part")
        kept = (small_disk / "f.bin.part").read_bytes()
        assert 0 < len(kept) < len(data)
        assert data.startswith(kept)
        raw.send(m.FileChunk(999, "", 0, b"x"))  # answered after every late chunk of offer 1
        await next_of(raw, m.FileCancel)
        cancels = [msg.id for msg in bob.sent if isinstance(msg, m.FileCancel)]
        assert cancels == [1, 999], "late chunks of a failed transfer are dropped quietly"

    run_raw(tmp_path, scenario)
    assert sorted(os.listdir(small_disk)) == ["f.bin.part", "filler"]
