"""The scenarios, in the order the report shows them.

Each module has ``run(cfg) -> list[Figure]`` (a coroutine) and measures its
variants interleaved, so a slow moment of the machine spreads over all of them
instead of landing on one. A module is imported only when its scenario runs,
so one that cannot load (say, without the relay) fails alone, with its reason.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Coroutine
from typing import Any

from bench.core import Config, Figure

Scenario = Callable[[Config], Coroutine[Any, Any, list[Figure]]]


def _load(module: str) -> Scenario:
    async def run(cfg: Config) -> list[Figure]:
        scenario = importlib.import_module(f"bench.scenarios.{module}")
        figures: list[Figure] = await scenario.run(cfg)
        return figures

    return run


SCENARIOS: dict[str, Scenario] = {
    "handshake": _load("handshake"),
    "chat": _load("chat"),
    "bulk": _load("bulk"),
    "relay": _load("relay_scale"),
    "room": _load("room"),
    "startup": _load("startup"),
    "first-message": _load("first_message"),
    "resume": _load("resume"),
    "files": _load("files"),
    "cluster": _load("cluster"),
}
