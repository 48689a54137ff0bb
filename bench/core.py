"""Figures, targets and sizes: the data every scenario produces and the report reads.

A scenario measures a figure once per run and returns a ``Figure`` holding every
run's sample. The report shows the median with the min and max, and the ratio of
the figure's median to its baseline's median (a baseline is another figure of the
same scenario, measured in the same run on the same machine). A ``Target`` is
what the design should reach; it is shown beside the figure, never enforced:
benchmarks print, they do not pass or fail.

``Config`` holds the sizes; ``Config.full()``, ``Config.quick()`` and
``Config.tiny()`` (the smoke test's, one run of everything) are the presets.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class Config:
    """How much each scenario does."""

    mode: str
    runs: int
    handshake_runs: int
    chat_round_trips: int
    bulk_bytes: int
    idle_pairs: tuple[int, ...]
    active_pairs: int
    active_seconds: float
    startup_runs: int
    room_members: int = 50
    room_seconds: float = 10.0
    room_rounds: int = 20
    resume_runs: int = 20
    file_bytes: int = 1 << 30
    file_runs: int = 3

    @classmethod
    def full(cls) -> Config:
        """The full sizes: 10,000 round trips, 1 GiB, 1,000 and 5,000 pairs, 1 GiB files."""
        return cls("full", 5, 50, 10_000, 1 << 30, (1000, 5000), 100, 3.0, 10)

    @classmethod
    def quick(cls) -> Config:
        """About 3 min on two busy cores: 1,000 round trips, 256 MiB, 1,000 and 2,500 pairs."""
        return cls(
            "quick",
            5,
            20,
            1_000,
            256 << 20,
            (1000, 2500),
            100,
            0.5,
            5,
            50,
            3.0,
            5,
            resume_runs=10,
            file_bytes=256 << 20,
        )

    @classmethod
    def tiny(cls) -> Config:
        """Every scenario once, with tiny sizes (the smoke test)."""
        return cls(
            "tiny",
            1,
            1,
            50,
            4 << 20,
            (100,),
            4,
            0.3,
            1,
            4,
            0.3,
            2,
            resume_runs=1,
            file_bytes=4 << 20,
            file_runs=1,
        )

    def as_dict(self) -> dict[str, Any]:
        """The sizes, for the JSON report."""
        return {
            "mode": self.mode,
            "runs": self.runs,
            "handshake_runs": self.handshake_runs,
            "chat_round_trips": self.chat_round_trips,
            "bulk_bytes": self.bulk_bytes,
            "idle_pairs": list(self.idle_pairs),
            "active_pairs": self.active_pairs,
            "active_seconds": self.active_seconds,
            "startup_runs": self.startup_runs,
            "room_members": self.room_members,
            "room_seconds": self.room_seconds,
            "room_rounds": self.room_rounds,
            "resume_runs": self.resume_runs,
            "file_bytes": self.file_bytes,
            "file_runs": self.file_runs,
        }


@dataclass(frozen=True)
class Target:
    """What a figure should reach: on its value (``ratio=False``) or on its ratio."""

    op: Literal["<", "<=", ">="]
    limit: float
    ratio: bool = False

    def met(self, value: float) -> bool:
        """Whether ``value`` (the median, or the ratio) reaches the target."""
        if self.op == "<":
            return value < self.limit
        if self.op == "<=":
            return value <= self.limit
        return value >= self.limit

    def text(self, unit: str) -> str:
        """``<= 1.5x`` or ``< 5 ms``."""
        if self.ratio:
            return f"{self.op} {self.limit:g}x"
        return f"{self.op} {self.limit:g} {unit}"


@dataclass
class Figure:
    """One measured quantity: a sample per run, or the reason it could not be measured."""

    scenario: str
    name: str
    unit: str
    better: Better
    samples: list[float] = field(default_factory=list)
    baseline: str | None = None
    target: Target | None = None
    note: str = ""
    unavailable: str | None = None
    optional: bool = False
    """Set when the figure's peer is not installed here (magic-wormhole): then not
    measuring it is no failure of the run. A peer that is there and fails is one."""

    @property
    def median(self) -> float:
        """The median sample."""
        return float(statistics.median(self.samples))

    @property
    def low(self) -> float:
        """The smallest sample."""
        return min(self.samples)

    @property
    def high(self) -> float:
        """The largest sample."""
        return max(self.samples)

    @property
    def ok(self) -> bool:
        """Measured, with every sample finite."""
        return (
            self.unavailable is None
            and bool(self.samples)
            and all(math.isfinite(s) for s in self.samples)
        )

    @property
    def fine(self) -> bool:
        """Measured, or optional: what the bench's exit status asks of every figure."""
        return self.ok or self.optional


def figure_map(figures: list[Figure]) -> dict[tuple[str, str], Figure]:
    """Figures by ``(scenario, name)``."""
    return {(f.scenario, f.name): f for f in figures}


def ratio(fig: Figure, figures: dict[tuple[str, str], Figure]) -> float | None:
    """The figure's median over its baseline's median, if both were measured."""
    if fig.baseline is None or not fig.ok:
        return None
    base = figures.get((fig.scenario, fig.baseline))
    if base is None or not base.ok or base.median == 0:
        return None
    return fig.median / base.median


def target_met(fig: Figure, figures: dict[tuple[str, str], Figure]) -> bool | None:
    """Whether the figure reaches its target (None without a target or a measurement)."""
    if fig.target is None or not fig.ok:
        return None
    value = ratio(fig, figures) if fig.target.ratio else fig.median
    return None if value is None else fig.target.met(value)


def percentile(sorted_values: list[float], p: float) -> float:
    """The ``p``-th percentile (0..100) of already sorted values, by nearest rank."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def unavailable(scenario: str, names: list[tuple[str, str, Better]], reason: str) -> list[Figure]:
    """Figures that could not be measured, each saying why."""
    return [Figure(scenario, n, u, b, unavailable=reason) for n, u, b in names]
