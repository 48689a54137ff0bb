"""``python -m bench``: run every scenario, print the table, optionally write JSON.

    python -m bench               # the full run (1 GiB streams, 10,000 round trips)
    python -m bench --quick       # smaller sizes (about 3 min on 2 busy cores)
    python -m bench --json out.json      # also write JSON (``-`` for stdout)
    python -m bench --markdown out.md    # also write the table as Markdown
    python -m bench --only chat,bulk     # some scenarios

The table is printed as the run goes: its heading at once, each scenario's
rows as soon as that scenario finishes, the run time at the end. Progress
goes to stderr: each scenario's name as it starts, and every
``TICK`` seconds how long it has been running. With ``--json -`` the table
goes to stderr too, so stdout is pure JSON; the JSON and Markdown files are
written at the end. The exit status is 0 when every figure was measured and
1 when any was not (a scenario failed, or the relay was unavailable),
except an optional peer that is not installed (magic-wormhole); it never
depends on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from bench.core import Config, Figure
from bench.relay import raise_fd_limit
from bench.report import block, document, footer, heading, markdown
from bench.scenarios import SCENARIOS
from confide import allocator

TICK = 30.0
"""Seconds between two "still running" lines on stderr."""


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes, a few minutes")
    size.add_argument("--tiny", action="store_true", help="each scenario once, tiny sizes (tests)")
    parser.add_argument("--json", metavar="FILE", help="also write the JSON report (- for stdout)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    parser.add_argument(
        "--only", metavar="NAMES", help=f"comma-separated scenarios of: {','.join(SCENARIOS)}"
    )
    parser.add_argument("--runs", type=int, metavar="N", help="runs per figure (default: 5)")
    return parser.parse_args(argv)


def config(args: argparse.Namespace) -> Config:
    """The sizes the flags ask for."""
    cfg = Config.tiny() if args.tiny else Config.quick() if args.quick else Config.full()
    if args.runs:
        cfg = dataclasses.replace(
            cfg,
            runs=args.runs,
            handshake_runs=max(args.runs, 1),
            startup_runs=args.runs,
            resume_runs=args.runs,
            file_runs=args.runs,
        )
    return cfg


def run_all(
    cfg: Config, names: list[str], done: Callable[[list[Figure]], None] = lambda _f: None
) -> list[Figure]:
    """Run the named scenarios in order, each in a fresh event loop.

    ``done`` is called with each scenario's figures as soon as it finishes.
    """
    figures: list[Figure] = []
    for index, name in enumerate(names, 1):
        with _progress(f"{name} ({index}/{len(names)})", sys.stderr):
            try:
                found = asyncio.run(SCENARIOS[name](cfg))
            except Exception as exc:
                reason = f"error: {type(exc).__name__}: {exc}"
                found = [Figure(name, "(scenario failed)", "", "lower", unavailable=reason)]
        figures += found
        done(found)
    return figures


@contextlib.contextmanager
def _progress(what: str, out: TextIO) -> Iterator[None]:
    """Say on ``out`` that ``what`` started, every ``TICK`` s that it runs, and when it ended."""
    start = time.perf_counter()
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK):
            print(f"bench: {what} running, {time.perf_counter() - start:.0f} s", file=out)

    print(f"bench: {what} started", file=out, flush=True)
    ticker = threading.Thread(target=tick, name="bench-progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()
        print(f"bench: {what} took {time.perf_counter() - start:.1f} s", file=out, flush=True)


def _printer(out: TextIO) -> Callable[[list[Figure]], None]:
    """Print each scenario's block of the table to ``out`` as it comes."""

    def show(found: list[Figure]) -> None:
        for scenario in dict.fromkeys(f.scenario for f in found):
            print(block([f for f in found if f.scenario == scenario]), file=out, flush=True)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; return the exit status."""
    args = parse(argv)
    names = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"bench: unknown scenario {unknown[0]!r}", file=sys.stderr)
        return 2
    cfg = config(args)
    raise_fd_limit()
    allocator.tune()  # as the confide command does: every variant runs with it
    to_stdout = args.json == "-"
    out = sys.stderr if to_stdout else sys.stdout
    print(heading(cfg), file=out, flush=True)
    start = time.perf_counter()
    figures = run_all(cfg, names, _printer(out))
    seconds = time.perf_counter() - start
    print(footer(seconds), file=out, flush=True)
    if args.json:
        text = json.dumps(document(figures, cfg, seconds), indent=2)
        if to_stdout:
            print(text)
        else:
            with open(args.json, "w", encoding="utf-8") as out:
                out.write(text + "\n")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(markdown(figures))
    return 0 if all(f.fine for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
