"""Names for received files: safe base names, never-overwriting final names, link checks.

An offer's names come from the peer, so none is trusted. ``safe_name``
reduces one offered name to a base name that is harmless on any platform:
no path separators, no ``..``, no control or bidi characters, no Windows
device name, at most ``MAX_NAME_BYTES`` of UTF-8. ``safe_member`` does the
same for every component of a tree member's ``/``-separated path.

``free_name`` picks the first of ``NAME.ext``, ``NAME (1).ext``, … that the
``taken`` predicate (the caller's look at the disk) says is free, so nothing
is ever overwritten. ``link_allowed`` says whether a symlink of a received
tree may be created: its target must be relative and, resolved from the
link's folder, stay inside the tree without passing through another link.

Everything here is pure: the only look at the disk is the predicate passed in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection

MAX_NAME_BYTES = 200
"""The longest safe name, in UTF-8 bytes (well under the usual 255 of a file system)."""

PART_SUFFIX = ".part"
"""What is appended to a final name while the data arrives."""

_DEVICE = re.compile(r"^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$", re.IGNORECASE)
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Unicode categories dropped from names: controls, format (bidi, zero-width), line breaks."""
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def _visible(char: str) -> bool:
    return char not in _BIDI and unicodedata.category(char) not in _HIDDEN


def _shorten(name: str) -> str:
    """``name`` cut to ``MAX_NAME_BYTES`` of UTF-8, keeping a short extension."""
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext.encode()) > 16:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    room = MAX_NAME_BYTES - len(suffix.encode())
    cut = stem.encode()[:room].decode(errors="ignore")
    return cut.rstrip(". ") + suffix


def safe_name(offered: str) -> str:
    """A safe base name for ``offered`` (never empty, never a path, never a device)."""
    name = re.split(r"[/\\]", offered)[-1]
    name = "".join(char for char in name if _visible(char))
    name = name.strip(". ")
    if _DEVICE.match(name):
        name = "_" + name
    name = _shorten(name)
    return name or "file"


def safe_member(path: str) -> str:
    """A tree member's ``/``-separated path, every component made safe.

    Empty components, ``.`` and ``..`` are dropped, so the result can never
    leave the tree; ``""`` when nothing is left.
    """
    parts = [part for part in re.split(r"[/\\]", path) if part not in ("", ".", "..")]
    return "/".join(safe_name(part) for part in parts)


def numbered(name: str, n: int) -> str:
    """``NAME (n).ext`` for ``NAME.ext`` (``n`` = 0: the name itself)."""
    if n == 0:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return f"{name} ({n})"
    return f"{stem} ({n}).{ext}"


def free_name(name: str, taken: Callable[[str], bool]) -> str:
    """The first of ``name``, ``NAME (1).ext``, ``NAME (2).ext``, … that is not ``taken``."""
    n = 0
    while taken(numbered(name, n)):
        n += 1
    return numbered(name, n)


def link_allowed(link: str, target: str, links: Collection[str]) -> bool:
    """Whether the tree member ``link`` may be a symlink to ``target``.

    ``link`` is a safe member path; ``links`` are every link member of the
    tree. The target must be relative, ``/``-separated, with its ``..`` only
    at the start, every other component already a safe name, and, resolved
    from the link's folder, name a member inside the tree that does not pass
    through another link (the last component may be one: it is checked on
    its own). Then the link's real target is inside the tree as well.
    """
    if not target or target.startswith(("/", "\\")) or "\\" in target or ":" in target:
        return False
    parts = [part for part in target.split("/") if part not in ("", ".")]
    ups = 0
    while ups < len(parts) and parts[ups] == "..":
        ups += 1
    names = parts[ups:]
    if any(part == ".." or safe_name(part) != part for part in names):
        return False
    folder = link.split("/")[:-1]
    if ups > len(folder):
        return False
    resolved = folder[: len(folder) - ups] + names
    if not resolved:
        return True  # the top folder itself
    return all("/".join(resolved[:i]) not in links for i in range(1, len(resolved)))
