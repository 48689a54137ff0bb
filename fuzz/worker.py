"""One fuzz target in one process: ``python -m fuzz.worker TARGET --runs N --engine E ...``.

``python -m fuzz`` starts this; it is not meant to be run by hand. Two engines:

- ``atheris``: the confide package is imported under atheris' instrumentation
  (so ``fuzz/__init__.py`` and this module import nothing of confide at the
  top), the target's seeds are written to a fresh corpus directory, and
  libFuzzer runs ``N`` inputs and ends the process. It prints
  ``Done N runs``; ``__main__`` reads that line.
- ``mutate``: a seeded loop that mutates the seeds at random (flips, inserts,
  deletions, copies, splices, boundary numbers). No coverage feedback; it is
  the fallback where atheris is not installed. It prints the same line.

In both, an exception the target does not document is a finding: its
traceback goes to stderr, the input is saved as ``crash-<sha1>`` under the
artifact directory, a JSON note (``--report``) says what and where, and the
process exits with ``CRASH_EXIT`` (libFuzzer's own error exit code).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

CRASH_EXIT = 77


def _finding(args: argparse.Namespace, data: bytes, runs: int) -> None:
    """Save the input and write the report for an exception being handled."""
    exc = sys.exc_info()[1]
    artifacts = Path(args.artifacts)
    artifacts.mkdir(parents=True, exist_ok=True)
    path = artifacts / f"crash-{hashlib.sha1(data).hexdigest()}"  # a name, as libFuzzer's
    path.write_bytes(data)
    Path(args.report).write_text(
        json.dumps(
            {
                "runs": runs,
                "error": f"{type(exc).__name__}: {exc}"[:200],
                "input": str(path),
                "traceback": traceback.format_exc(),
            }
        )
    )


def _guard(args: argparse.Namespace, run: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """``run`` that counts inputs and reports the first exception before letting it go."""
    count = [0]

    def one(data: bytes) -> None:
        count[0] += 1
        try:
            run(data)
        except BaseException:
            _finding(args, data, count[0])
            raise

    return one


def _atheris(args: argparse.Namespace) -> int:
    import atheris  # type: ignore[import-not-found, import-untyped, unused-ignore]

    for hook in ("RegEx", "str"):
        try:
            atheris.enabled_hooks.add(hook)
        except AttributeError:  # pragma: no cover - old atheris
            break
    with atheris.instrument_imports(include=["confide", "fuzz.targets"]):
        from fuzz.targets import TARGETS
    target = TARGETS[args.target]
    work = Path(args.report).parent  # the parent's scratch directory, removed after
    corpus = work / "corpus"
    corpus.mkdir(exist_ok=True)
    for i, seed in enumerate(target.seeds()):
        (corpus / f"seed-{i}").write_bytes(seed)
    argv = [
        sys.argv[0],
        f"-runs={args.runs}",
        f"-seed={args.seed}",
        f"-max_len={target.max_len}",
        f"-artifact_prefix={work}/",  # ``_finding`` saves the input under --artifacts
        "-timeout=60",
        "-rss_limit_mb=2048",
        "-print_final_stats=0",
        str(corpus),
    ]
    atheris.Setup(argv, _guard(args, target.run))
    atheris.Fuzz()  # runs the inputs, then ends the process
    return 0  # pragma: no cover


_INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x10001, 0xFFFFFF, 0x7FFFFFFF)


def _mutate(rng: random.Random, data: bytes, pool: Sequence[bytes], max_len: int) -> bytes:
    """``data`` with one to eight random changes."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(8)
        at = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip a bit
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:  # set a byte
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif op == 2:  # insert random bytes
            buf[at:at] = rng.randbytes(rng.randint(1, 8))
        elif op == 3 and buf:  # delete a range
            del buf[at : at + rng.randint(1, 16)]
        elif op == 4 and buf:  # duplicate a range
            start = rng.randrange(len(buf))
            buf[at:at] = buf[start : start + rng.randint(1, 32)]
        elif op == 5:  # splice in part of another seed
            other = rng.choice(pool)
            start = rng.randrange(len(other) + 1)
            buf[at:at] = other[start : start + rng.randint(1, 64)]
        elif op == 6:  # a boundary number, big-endian, 1 to 4 bytes
            width = rng.randint(1, 4)
            value = rng.choice(_INTERESTING) & ((1 << 8 * width) - 1)
            buf[at : at + width] = value.to_bytes(width, "big")
        else:  # cut the tail
            del buf[at:]
    return bytes(buf[:max_len])


def _mutation_loop(args: argparse.Namespace) -> int:
    from fuzz.targets import TARGETS

    target = TARGETS[args.target]
    pool = list(target.seeds())
    rng = random.Random(args.seed)
    one = _guard(args, target.run)
    for i in range(args.runs):
        if i < len(pool):
            data = pool[i]
        elif rng.randrange(16) == 0:
            data = rng.randbytes(rng.randrange(target.max_len))
        else:
            data = _mutate(rng, rng.choice(pool), pool, target.max_len)
        try:
            one(data)
        except BaseException:
            traceback.print_exc()
            return CRASH_EXIT
    print(f"Done {args.runs} runs", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one target with one engine; the exit status is 0 or ``CRASH_EXIT``."""
    parser = argparse.ArgumentParser(prog="python -m fuzz.worker")
    parser.add_argument("target")
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--engine", choices=("atheris", "mutate"), required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--report", required=True)
    args: Any = parser.parse_args(argv)
    return _atheris(args) if args.engine == "atheris" else _mutation_loop(args)


if __name__ == "__main__":
    sys.exit(main())
