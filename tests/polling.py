"""One way for an async test to wait for a condition: poll it, bounded.

``until`` checks ``condition()`` every few milliseconds and returns as soon
as it holds; after ``timeout`` seconds it fails naming ``what``. The bound is
for a loaded machine, never a wait in itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

POLL = 0.005
"""Seconds between two looks at the condition."""


async def until(
    condition: Callable[[], object], what: str = "the condition", *, timeout: float = 10.0
) -> None:
    """Wait until ``condition()`` is true; ``AssertionError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(POLL)
