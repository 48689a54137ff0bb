"""Turn figures into the human table and the JSON document.

The table has one block per scenario and one row per figure: median, min and
max over the runs, the ratio of the median to the baseline's median (and which
baseline), and the target with whether the median (or ratio) meets it. A
figure that could not be measured shows why in place of its numbers. The JSON
holds the same, plus every sample, the sizes and the machine.

The table is made of parts so that ``python -m bench`` can print it as it
goes: ``heading`` first, one ``block`` per scenario as soon as it finishes
(a baseline is always in its figure's own scenario), and ``footer`` with the
run time at the end. ``table`` is all of them at once.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.core import Config, Figure, figure_map, ratio, target_met
from confide import __version__

NAME_WIDTH = 32


def number(value: float) -> str:
    """A value with about three significant digits, never in exponent form."""
    size = abs(value)
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def table(figures: list[Figure], cfg: Config, seconds: float) -> str:
    """The human-readable report: heading, each scenario's block, footer."""
    scenarios = list(dict.fromkeys(f.scenario for f in figures))
    blocks = [block([f for f in figures if f.scenario == s]) for s in scenarios]
    return "\n".join([heading(cfg), *blocks, footer(seconds)])


def heading(cfg: Config) -> str:
    """The table's first lines: the mode, the machine, how to read a row."""
    return "\n".join(
        [
            f"confide bench: {cfg.mode} mode, {machine()['summary']}",
            "each figure: median [min .. max] over its runs; ratio = median / baseline median",
        ]
    )


def block(figures: list[Figure]) -> str:
    """One scenario's part of the table: a blank line, its name, a row per figure."""
    by_key = figure_map(figures)
    scenario = figures[0].scenario if figures else ""
    return "\n".join(["", scenario, *(_row(fig, by_key) for fig in figures)])


def footer(seconds: float) -> str:
    """The table's last line: how long the whole run took."""
    return f"\nran in {seconds:.0f} s"


def markdown(figures: list[Figure]) -> str:
    """The same table as Markdown, one table with a scenario column (for the README)."""
    by_key = figure_map(figures)
    lines = [
        "| scenario | figure | median | min .. max | runs | ratio | baseline | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for fig in figures:
        if not fig.ok:
            lines.append(f"| {fig.scenario} | {fig.name} | {fig.unavailable} | | | | | |")
            continue
        r = ratio(fig, by_key)
        target = ""
        if fig.target is not None:
            met = target_met(fig, by_key)
            target = f"{fig.target.text(fig.unit)}: {'met' if met else '**missed**'}"
        lines.append(
            f"| {fig.scenario} | {fig.name} | {number(fig.median)} {fig.unit} "
            f"| {number(fig.low)} .. {number(fig.high)} | {len(fig.samples)} "
            f"| {f'{r:.2f}x' if r is not None else ''} | {fig.baseline or ''} | {target} |"
        )
    return "\n".join(lines) + "\n"


def _row(fig: Figure, by_key: dict[tuple[str, str], Figure]) -> str:
    name = f"  {fig.name}".ljust(NAME_WIDTH)
    if not fig.ok:
        return f"{name} {fig.unavailable or 'not measured'}"
    spread = f"[{number(fig.low)} .. {number(fig.high)}]"
    cells = [
        name,
        f"{number(fig.median):>8} {fig.unit:<5}",
        f"{spread:<20}",
        f"n={len(fig.samples)}",
    ]
    r = ratio(fig, by_key)
    if r is not None:
        cells.append(f"{r:6.2f}x {fig.baseline}")
    if fig.target is not None:
        met = target_met(fig, by_key)
        verdict = "met" if met else "MISSED" if met is not None else "?"
        cells.append(f"| target {fig.target.text(fig.unit)}: {verdict}")
    return " ".join(cells).rstrip()


def machine() -> dict[str, Any]:
    """What this ran on, for the report's first line and the JSON."""
    cpus = os.cpu_count() or 0
    python = platform.python_version()
    system = f"{platform.system()} {platform.machine()}"
    return {
        "system": system,
        "cpus": cpus,
        "python": python,
        "implementation": sys.implementation.name,
        "summary": f"{system}, {cpus} CPUs, Python {python}",
    }


def document(figures: list[Figure], cfg: Config, seconds: float) -> dict[str, Any]:
    """The JSON report."""
    by_key = figure_map(figures)
    out = []
    for fig in figures:
        item: dict[str, Any] = {
            "scenario": fig.scenario,
            "name": fig.name,
            "unit": fig.unit,
            "better": fig.better,
            "note": fig.note,
            "baseline": fig.baseline,
        }
        if fig.ok:
            item |= {
                "median": fig.median,
                "min": fig.low,
                "max": fig.high,
                "runs": len(fig.samples),
                "samples": fig.samples,
                "ratio": ratio(fig, by_key),
            }
        else:
            item["unavailable"] = fig.unavailable or "not measured"
            item["optional"] = fig.optional
        if fig.target is not None:
            item["target"] = {
                "text": fig.target.text(fig.unit),
                "on": "ratio" if fig.target.ratio else "median",
                "met": target_met(fig, by_key),
            }
        out.append(item)
    return {
        "confide": {"version": __version__, "commit": _commit()},
        "machine": machine(),
        "config": cfg.as_dict(),
        "seconds": seconds,
        "figures": out,
    }


def _commit() -> str:
    """The git commit of the checkout the bench runs from, if it is one."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if done.returncode == 0:
            return done.stdout.strip()
    return ""
