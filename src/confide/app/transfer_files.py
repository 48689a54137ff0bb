"""The disk side of a transfer: reading what we send, writing what we receive.

``scan`` turns a path into the entries of an offer (a file, or a tree
walked with every folder before its members; symlinks become ``link``
entries, never followed; other special files are left out). ``Source``
streams those files as one byte stream: each ``read`` is one ``read`` call
of at most ``FILE_CHUNK`` bytes that never crosses a file boundary.

``Sink`` writes a received stream into ``FINAL.part``: a file, or a folder
for a tree. Each ``write`` is one ``os.write`` per file touched; files are
opened with ``O_NOFOLLOW`` inside a folder we created, so a write never
follows a link. ``finish`` (run in a thread) fsyncs, creates the empty
files and the allowed links, and renames the ``.part`` to the first free
final name. ``resume_offset`` and ``hash_prefix`` find how much of an
existing ``.part`` can be kept and hash it; ``hash_source`` hashes the
sender's own prefix. ``check_space`` refuses an accept the disk cannot hold.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from confide.app.transfer_core import Entry, Manifest
from confide.app.transfer_names import PART_SUFFIX, free_name, link_allowed
from confide.errors import LocalError, UsageError
from confide.protocol.messages import FILE_CHUNK

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
HASH_BLOCK = 1024 * 1024


class DiskFullError(LocalError):
    """The disk (or a quota) filled up while a transfer was writing."""


def _walk(top: Path, rel: str) -> Iterator[tuple[str, Path, os.stat_result]]:
    with os.scandir(top) as listing:
        found = sorted(listing, key=lambda item: item.name)
    for item in found:
        path = Path(item.path)
        member = f"{rel}{item.name}"
        info = path.lstat()
        yield member, path, info
        if stat.S_ISDIR(info.st_mode):
            yield from _walk(path, member + "/")


def scan(path: Path) -> tuple[str, list[Entry], list[Path]]:
    """The offered name, the entries and their paths for ``path`` (a file or a folder).

    ``UsageError`` if it is missing, unreadable, of another kind, or has no name.
    """
    try:
        info = path.stat()
        name = path.absolute().name
        if name in ("", ".."):
            name = path.resolve().name  # "..", "/": the name of the folder it means
        if not name:
            raise UsageError(f"{path} has no name to send it under")
        if stat.S_ISREG(info.st_mode):
            with path.open("rb"):
                pass
            return name, [Entry("", "file", info.st_size)], [path]
        if not stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{path} is neither a file nor a folder")
        entries: list[Entry] = []
        paths: list[Path] = []
        for member, real, member_info in _walk(path, ""):
            mode = member_info.st_mode
            if stat.S_ISLNK(mode):
                entries.append(Entry(member, "link", 0, os.readlink(real)))
            elif stat.S_ISDIR(mode):
                entries.append(Entry(member, "dir", 0))
            elif stat.S_ISREG(mode):
                with real.open("rb"):
                    pass
                entries.append(Entry(member, "file", member_info.st_size))
            else:
                continue
            paths.append(real)
    except OSError as exc:
        raise UsageError(f"cannot send {path}: {exc.strerror or exc}") from exc
    return name, entries, paths


@dataclass(slots=True)
class _Span:
    start: int
    size: int
    path: Path


def _spans(entries: list[Entry] | tuple[Entry, ...], paths: list[Path]) -> list[_Span]:
    spans: list[_Span] = []
    start = 0
    for entry, path in zip(entries, paths, strict=True):
        if entry.kind == "file":
            spans.append(_Span(start, entry.size, path))
            start += entry.size
    return spans


def _span_at(spans: list[_Span], offset: int, hint: int = 0) -> int:
    """The index of the span holding stream ``offset``, searching from ``hint`` on."""
    start = hint if 0 <= hint < len(spans) and spans[hint].start <= offset else 0
    for index in range(start, len(spans)):
        span = spans[index]
        if offset < span.start + span.size:
            return index
    return len(spans)


class Source:
    """The files of an offer read as one stream, chunk by chunk."""

    def __init__(self, entries: list[Entry], paths: list[Path]) -> None:
        """A stream over the ``file`` entries of ``entries`` (``paths`` are where they are)."""
        self._spans = _spans(entries, paths)
        self.size = sum(span.size for span in self._spans)
        self._index = -1
        self._file: int | None = None
        self._position = -1

    def read(self, offset: int) -> bytes:
        """The next chunk at stream ``offset``; ``LocalError`` if a file shrank or vanished."""
        index = _span_at(self._spans, offset, self._index)
        span = self._spans[index]
        within = offset - span.start
        try:
            if index != self._index or self._file is None:
                self.close()
                self._file = os.open(span.path, os.O_RDONLY)
                self._index = index
                self._position = 0
            if self._position != within:
                os.lseek(self._file, within, os.SEEK_SET)
            data = os.read(self._file, min(FILE_CHUNK, span.size - within))
        except OSError as exc:
            raise LocalError(f"cannot read {span.path}: {exc.strerror or exc}") from exc
        if not data:
            raise LocalError(f"{span.path} changed while it was being sent")
        self._position = within + len(data)
        return data

    def hash_prefix(self, offset: int) -> hashlib._Hash:
        """SHA-256 of the stream's first ``offset`` bytes (blocking: run it in a thread)."""
        digest = hashlib.sha256()
        for span in self._spans:
            take = min(span.size, offset - span.start)
            if take <= 0:
                break
            _hash_file(digest, span.path, take)
        return digest

    def close(self) -> None:
        """Close the file being read, if any."""
        if self._file is not None:
            os.close(self._file)
            self._file = None


def _hash_file(digest: hashlib._Hash, path: Path, take: int) -> None:
    with path.open("rb", buffering=0) as file:
        buffer = bytearray(HASH_BLOCK)
        view = memoryview(buffer)
        while take > 0:
            got = file.readinto(view[: min(HASH_BLOCK, take)])
            if not got:
                raise LocalError(f"{path} is shorter than expected")
            digest.update(view[:got])
            take -= got


def part_paths(
    manifest: Manifest, folder: Path, resume: bool, busy: Collection[Path] = ()
) -> tuple[Path, int]:
    """The ``.part`` to write to, and how many stream bytes of it can be kept.

    With ``resume``, an existing ``NAME.part`` of the right kind is kept;
    otherwise the ``.part`` of the first final name that is free, new.
    ``busy`` are the ``.part`` files other transfers are writing: never these.
    """
    part = folder / (manifest.name + PART_SUFFIX)
    kind_fits = part.is_file() if manifest.single else part.is_dir()
    if resume and part not in busy and not part.is_symlink() and kind_fits:
        return part, resume_offset(manifest, part)

    def taken(name: str) -> bool:
        part = folder / (name + PART_SUFFIX)
        return os.path.lexists(folder / name) or os.path.lexists(part) or part in busy

    return folder / (free_name(manifest.name, taken) + PART_SUFFIX), 0


def _members(manifest: Manifest, part: Path) -> list[Path]:
    if manifest.single:
        return [part]
    return [part.joinpath(*entry.path.split("/")) for entry in manifest.entries]


def resume_offset(manifest: Manifest, part: Path) -> int:
    """How many stream bytes of ``part`` are there: complete files, then one partial."""
    offset = 0
    for entry, path in zip(manifest.entries, _members(manifest, part), strict=True):
        if entry.kind != "file":
            continue
        try:
            info = path.lstat()
        except OSError:
            return offset
        if not stat.S_ISREG(info.st_mode) or info.st_size > entry.size:
            return offset
        offset += info.st_size
        if info.st_size < entry.size:
            return offset
    return offset


def hash_part(manifest: Manifest, part: Path, offset: int) -> hashlib._Hash:
    """SHA-256 of the first ``offset`` stream bytes held in ``part`` (blocking)."""
    spans = _spans(manifest.entries, _members(manifest, part))
    digest = hashlib.sha256()
    for span in spans:
        take = min(span.size, offset - span.start)
        if take <= 0:
            break
        _hash_file(digest, span.path, take)
    return digest


def check_space(folder: Path, needed: int) -> None:
    """``LocalError`` with the numbers if ``folder``'s disk has less than ``needed`` bytes free.

    ``folder`` need not exist yet: its nearest existing parent is measured.
    """
    there = folder
    while not there.exists() and there != there.parent:
        there = there.parent
    free = shutil.disk_usage(there).free
    if free < needed:
        raise LocalError(
            f"not enough free space in {folder}: {needed} bytes needed, {free} bytes free"
        )


class Sink:
    """Writes a received stream into ``part`` (a file, or a folder of the tree's members)."""

    def __init__(self, manifest: Manifest, part: Path) -> None:
        """A writer for ``manifest`` into ``part``; folders are made by ``prepare``."""
        self.manifest = manifest
        self.part = part
        self._spans = _spans(manifest.entries, _members(manifest, part))
        self._index = -1
        self._file: int | None = None

    def prepare(self) -> None:
        """Create the ``.part`` folder and the tree's folders (nothing for a single file)."""
        if self.manifest.single:
            return
        _mkdir(self.part)
        for entry, path in zip(
            self.manifest.entries, _members(self.manifest, self.part), strict=True
        ):
            if entry.kind == "dir":
                _mkdir(path, parents=True)

    def write(self, offset: int, data: bytes) -> None:
        """Write ``data`` at stream ``offset``; ``DiskFullError`` when the disk is full."""
        view = memoryview(data)
        while view:
            index = _span_at(self._spans, offset, self._index)
            span = self._spans[index]
            within = offset - span.start
            take = min(len(view), span.size - within)
            try:
                self._open(index, within)
                assert self._file is not None
                piece = view[:take]
                while piece:
                    piece = piece[os.write(self._file, piece) :]
            except OSError as exc:
                self.close()
                if exc.errno in DISK_FULL:
                    raise DiskFullError(f"the disk is full ({exc.strerror})") from exc
                raise LocalError(f"cannot write {span.path}: {exc.strerror or exc}") from exc
            offset += take
            view = view[take:]

    def _open(self, index: int, within: int) -> None:
        if index == self._index and self._file is not None and within:
            return
        self.close()
        path = self._spans[index].path
        if not self.manifest.single:
            _mkdir(path.parent, parents=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW
        self._file = os.open(path, flags | (os.O_TRUNC if within == 0 else 0), 0o644)
        self._index = index
        if within:
            os.ftruncate(self._file, within)
            os.lseek(self._file, within, os.SEEK_SET)

    def close(self) -> None:
        """Close the file being written, if any."""
        if self._file is not None:
            os.close(self._file)
            self._file = None

    def finish(self, on_refused: Callable[[str], None]) -> Path:
        """Make the ``.part`` whole and give it its final name (blocking: run it in a thread).

        Creates empty files, fsyncs every file, removes from a tree what is
        not in the offer (left in a kept ``.part`` by an earlier, different
        offer of the same name), creates the links that stay inside the tree
        (``on_refused`` gets one line for each other), and renames the
        ``.part`` to the first free final name, which it returns.
        """
        self.close()
        members = _members(self.manifest, self.part)
        if not self.manifest.single:
            _prune(
                self.part, {entry.path for entry in self.manifest.entries if entry.kind != "link"}
            )
        for entry, path in zip(self.manifest.entries, members, strict=True):
            if entry.kind == "file":
                if not self.manifest.single:
                    _mkdir(path.parent, parents=True)
                handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
                try:
                    os.fsync(handle)
                finally:
                    os.close(handle)
        for entry, path in zip(self.manifest.entries, members, strict=True):
            if entry.kind != "link":
                continue
            if link_allowed(entry.path, entry.target, self.manifest.links):
                if path.is_symlink():  # made by an earlier try that failed later
                    path.unlink()
                os.symlink(entry.target, path)
            else:
                on_refused(f"the link {entry.path} to {entry.target!r} leads outside: not created")
        folder = self.part.parent
        while True:
            final = folder / free_name(
                self.manifest.name, lambda name: os.path.lexists(folder / name)
            )
            try:
                self._rename(final)
            except FileExistsError:
                continue  # taken since we looked: the next free name
            break
        _fsync_folder(folder)
        return final

    def _rename(self, final: Path) -> None:
        if not self.manifest.single:
            if os.path.lexists(final):
                raise FileExistsError(final)
            os.rename(self.part, final)
            return
        try:
            os.link(self.part, final)  # never replaces an existing file
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
                raise
            os.rename(self.part, final)  # no hard links here: checked free just before
        else:
            os.unlink(self.part)

    def discard(self) -> None:
        """Remove the ``.part`` (its data is known to be bad)."""
        self.close()
        if self.part.is_dir() and not self.part.is_symlink():
            shutil.rmtree(self.part, ignore_errors=True)
        else:
            self.part.unlink(missing_ok=True)


def _prune(top: Path, wanted: set[str]) -> None:
    """Remove everything under ``top`` whose relative path is not in ``wanted``."""
    for folder, dirs, files in os.walk(top, topdown=False):
        rel = Path(folder).relative_to(top)
        for name in [*files, *dirs]:
            path = Path(folder) / name
            if (rel / name).as_posix() in wanted:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def _mkdir(path: Path, *, parents: bool = False) -> None:
    try:
        path.mkdir(parents=parents, exist_ok=True)
    except FileExistsError:
        raise LocalError(f"{path} is in the way of a received folder") from None
    if path.is_symlink():
        raise LocalError(f"{path} is a link where a received folder should be")


def _fsync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
