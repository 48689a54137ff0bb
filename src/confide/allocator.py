"""Keep glibc's malloc from handing stream buffers back to the OS and faulting them in again.

A busy stream allocates and frees 64 to 256 KiB buffers (reads, records,
plaintexts) thousands of times a second. With glibc's defaults a free at the
top of the heap can trim it, and a 256 KiB read may be served by ``mmap``;
either way the next allocation page-faults the memory back in, which can
double the CPU a bulk transfer costs (``bench/scenarios/bulk.py`` shows it).
``tune`` raises the two thresholds once, at start-up, so those buffers are
reused. It costs at most a few tens of MiB kept for reuse, and does nothing
where malloc is not glibc's (macOS, Windows, musl), or if the call fails.
"""

from __future__ import annotations

import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20  # blocks under 1 MiB come from the heap, not mmap
TRIM_THRESHOLD = 32 << 20  # keep up to 32 MiB of freed heap for reuse

_tuned = False


def tune() -> bool:
    """Set glibc's trim and mmap thresholds once; return whether they are set."""
    global _tuned  # noqa: PLW0603 - a process-wide setting, applied once
    if _tuned or not sys.platform.startswith("linux"):
        return _tuned
    import ctypes

    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False  # not glibc: its thresholds mean nothing here
    mallopt = libc.mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _tuned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _tuned
