"""An asyncio event loop on a daemon thread, for helpers that synchronous tests drive.

The proxies in ``tests/`` (``recording_proxy``, ``faultproxy``) serve
sockets with asyncio while the test itself runs ``confide`` subprocesses
and blocks on their output. ``LoopThread`` owns such a loop: ``start`` runs
it on a daemon thread, ``run`` hands it one coroutine and blocks until the
result is back (so a control call "returns only when applied"), and ``stop``
cancels whatever tasks are left, joins the loop's default executor, stops
the loop, joins the thread and closes the loop, so nothing outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

CALL_TIMEOUT = 10.0
"""Seconds ``run`` waits for the loop to finish one coroutine."""


class LoopThread:
    """One event loop running on its own daemon thread."""

    def __init__(self, name: str) -> None:
        """A loop not running yet; ``name`` names the thread (seen in thread dumps)."""
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)

    def start(self) -> None:
        """Run the loop on the thread."""
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT) -> T:
        """Run ``coro`` on the loop and return its result (or raise its exception)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, timeout: float = CALL_TIMEOUT) -> None:
        """Cancel the tasks left, stop the loop, join the thread, close the loop; once is enough."""
        if self.loop.is_closed():
            return
        if self.thread.is_alive():
            with contextlib.suppress(Exception):
                self.run(_wind_down(), timeout)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
        self.loop.close()


async def _wind_down() -> None:
    """Cancel every other task of the running loop, then join its executor."""
    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current]
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    loop = asyncio.get_running_loop()
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()
