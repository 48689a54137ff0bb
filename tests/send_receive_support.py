"""Helpers for the ``confide send`` / ``confide receive`` end-to-end tests.

``random_file`` writes a file of random bytes a MiB at a time and returns its
SHA-256; ``file_hash`` hashes a file the same way (a test never holds a big
file in memory). ``start_send`` starts ``confide send`` on loopback (or
through a relay) and waits for its code; ``start_receive`` starts
``confide receive`` with that code in ``CONFIDE_CODE``. ``wait_until`` polls
a condition, bounded (no fixed sleeps).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from proc import Launcher, Proc

MiB = 1024 * 1024


def random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes to ``path``, a MiB at a time; return their SHA-256 (hex)."""
    digest = hashlib.sha256()
    with path.open("wb") as f:
        left = size
        while left:
            block = os.urandom(min(MiB, left))
            digest.update(block)
            f.write(block)
            left -= len(block)
    return digest.hexdigest()


def file_hash(path: Path) -> str:
    """The SHA-256 (hex) of ``path``, read a MiB at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MiB):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Sending:
    """A ``confide send`` that printed its code (and where it listens, when direct)."""

    proc: Proc
    code: str
    port: int = 0

    @property
    def at(self) -> str:
        """``127.0.0.1:PORT``: what a receiver passes to ``--at``."""
        return f"127.0.0.1:{self.port}"


def start_send(confide: Launcher, *args: str, relay: str | None = None) -> Sending:
    """``confide send ARGS`` on loopback (or through the relay at ``relay``); wait for the code."""
    where: tuple[str, ...] = ("--relay", relay) if relay is not None else ()
    if relay is None:
        where = ("--bind", "127.0.0.1", "--port", "0", "--no-discovery", "--no-relay")
    proc = confide.run("send", *where, *args, label="send")
    port = 0
    if relay is None:
        port = int(proc.expect_err(r"^listening on 127\.0\.0\.1:(\d+)$").group(1))
    code = proc.expect_err(r"^code: (\S+)$").group(1)
    return Sending(proc, code, port)


def start_receive(
    confide: Launcher,
    at: str,
    code: str,
    folder: Path,
    *args: str,
    relay: bool = False,
    command: list[str] | None = None,
) -> Proc:
    """``confide receive`` into ``folder`` from ``at`` (a relay's address if ``relay``).

    ``command``: another confide to run (``proc.OLDER``).
    """
    where = ("--relay", at) if relay else ("--at", at, "--no-relay")
    return confide.run(
        "receive",
        *where,
        "--dir",
        str(folder),
        *args,
        env={"CONFIDE_CODE": code},
        label="receive",
        command=command,
    )


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)  # polls the condition above


def size_of(path: Path) -> int:
    """``path``'s size, 0 while it does not exist."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
