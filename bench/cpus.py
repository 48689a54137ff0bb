"""Where the two ends of a chat run: on different CPUs, every time.

Left to the scheduler, the bench and a peer process land on the same CPU in
one run and on different CPUs in the next, and a round trip costs a different
amount in each case; the same variant then differs by half between two runs
of the bench. So the chat and bulk scenarios pin their own process to the
first CPU (``near``) and each peer process to the second (``far``), as two
machines would run them side by side; a relay is left to the scheduler
(``anywhere``), since on two CPUs it must share one with an end. With fewer
than two CPUs, or without ``sched_setaffinity`` (not Linux), nothing is pinned.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


def _cpus() -> list[int]:
    if not hasattr(os, "sched_getaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


def _set(pid: int, cpus: set[int]) -> None:
    with contextlib.suppress(OSError):
        os.sched_setaffinity(pid, cpus)


@contextlib.contextmanager
def near() -> Iterator[None]:
    """Run this process on the first CPU for the block; restore its CPUs after."""
    cpus = _cpus()
    if len(cpus) < 2:
        yield
        return
    _set(0, {cpus[0]})
    try:
        yield
    finally:
        _set(0, set(cpus))


ALL: list[int] = _cpus()
"""The CPUs this process could use when the bench started."""


def far(pid: int) -> None:
    """Run process ``pid`` on the second CPU (the far end of a chat)."""
    if len(ALL) >= 2:
        _set(pid, {ALL[1]})


def anywhere(pid: int) -> None:
    """Let process ``pid`` run on any CPU (it inherited ``near``'s pin)."""
    if len(ALL) >= 2:
        _set(pid, set(ALL))
