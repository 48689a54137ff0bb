"""``python -m bench``: run every scenario, print the table, optionally write JSON.

    python -m bench               # the full run (1 GiB streams, 10,000 round trips)
    python -m bench --quick       # under a minute on two cores
    python -m bench --json out.json      # also write JSON (``-`` for stdout)
    python -m bench --markdown out.md    # also write the table as Markdown
    python -m bench --only chat,bulk     # some scenarios

With ``--json -`` the table goes to stderr so stdout is pure JSON. The exit
status is 0 when every figure was measured and 1 when any was not (a scenario
failed, or the relay was unavailable), except an optional peer that is not
installed (magic-wormhole); it never depends on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Sequence

from bench.core import Config, Figure
from bench.relay import raise_fd_limit
from bench.report import document, markdown, table
from bench.scenarios import SCENARIOS
from confide import allocator


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
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


def run_all(cfg: Config, names: list[str]) -> list[Figure]:
    """Run the named scenarios in order, each in a fresh event loop."""
    figures: list[Figure] = []
    for name in names:
        try:
            figures += asyncio.run(SCENARIOS[name](cfg))
        except Exception as exc:
            reason = f"error: {type(exc).__name__}: {exc}"
            figures.append(Figure(name, "(scenario failed)", "", "lower", unavailable=reason))
    return figures


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
    start = time.perf_counter()
    figures = run_all(cfg, names)
    seconds = time.perf_counter() - start
    to_stdout = args.json == "-"
    print(table(figures, cfg, seconds), file=sys.stderr if to_stdout else sys.stdout, flush=True)
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
