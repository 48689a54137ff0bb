"""``python -m fuzz``: run fuzz targets, one child process each, and print a line per target.

    python -m fuzz all --runs 20000          # every target
    python -m fuzz host joiner --runs 5000   # some targets
    python -m fuzz all --runs 2000 --engine mutate   # the fallback engine on purpose
    python -m fuzz --list

Each line reads ``fuzz TARGET  N inputs  RESULT  S s  ENGINE``; RESULT is
``clean`` (every input ran and only documented errors came out), ``FAILED``
(a finding: its traceback is printed above and its input saved under
``--artifacts``) or ``ERROR`` (the child died some other way). The exit
status is 0 when every target is clean, 1 otherwise, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fuzz.worker import CRASH_EXIT

_DONE = re.compile(rb"^Done (\d+) runs", re.MULTILINE)
_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Outcome:
    """What one target's run came to."""

    target: str
    runs: int
    result: str
    seconds: float
    engine: str
    detail: str = ""

    def line(self) -> str:
        """The summary line."""
        tail = f": {self.detail}" if self.detail else ""
        return (
            f"fuzz {self.target:<8} {self.runs:>9} inputs  {self.result:<6} "
            f"{self.seconds:>8.1f} s  {self.engine}{tail}"
        )


def atheris_version() -> str | None:
    """The installed atheris version, or None."""
    if importlib.util.find_spec("atheris") is None:
        return None
    return importlib.metadata.version("atheris")


def run_target(name: str, runs: int, engine: str, seed: int, artifacts: Path) -> Outcome:
    """Run one target in a child process and read what it came to."""
    label = f"atheris {atheris_version()}" if engine == "atheris" else "mutate"
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as tmp:
        work = Path(tmp)
        report, log = work / "report.json", work / "log.txt"
        argv = [sys.executable, "-m", "fuzz.worker", name, "--runs", str(runs)]
        argv += ["--engine", engine, "--seed", str(seed)]
        argv += ["--artifacts", str(artifacts.resolve()), "--report", str(report)]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, (str(_ROOT), os.environ.get("PYTHONPATH")))),
        }
        start = time.perf_counter()
        with log.open("wb") as out:
            rc = subprocess.run(
                argv, check=False, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work
            ).returncode
        seconds = time.perf_counter() - start
        text = log.read_bytes()
        done = _DONE.findall(text)
        if rc == 0 and done and int(done[-1]) == runs:
            return Outcome(name, runs, "clean", seconds, label)
        if rc == CRASH_EXIT and report.exists():
            found = json.loads(report.read_text())
            sys.stderr.write(found["traceback"])
            detail = f"{found['error']} (input: {found['input']})"
            return Outcome(name, found["runs"], "FAILED", seconds, label, detail)
        sys.stderr.write(text[-4000:].decode("utf-8", "replace"))
        return Outcome(name, int(done[-1]) if done else 0, "ERROR", seconds, label, f"exit {rc}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the targets the command line names; return the exit status."""
    from fuzz.targets import TARGETS

    public = [t.name for t in TARGETS.values() if not t.hidden]
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n")[0])
    parser.add_argument(
        "targets", nargs="*", metavar="TARGET", help=f"all, or of: {' '.join(public)}"
    )
    parser.add_argument("--runs", type=int, default=20000, help="inputs per target (20000)")
    parser.add_argument(
        "--engine",
        choices=("auto", "atheris", "mutate"),
        default="auto",
        help="auto: atheris if installed, else mutate",
    )
    parser.add_argument("--seed", type=int, default=1, help="the engine's random seed (1)")
    parser.add_argument(
        "--artifacts", type=Path, default=Path("fuzz-crashes"), help="where failing inputs go"
    )
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name in public:
            print(f"{name:<8} {TARGETS[name].about}")
        return 0
    names = public if args.targets == ["all"] else args.targets
    unknown = [n for n in names if n not in TARGETS]
    if not names or unknown or args.runs < 1:
        what = (
            f"unknown target {unknown[0]!r}"
            if unknown
            else "name a target (or all) and --runs >= 1"
        )
        print(f"fuzz: {what}; targets: all {' '.join(public)}", file=sys.stderr)
        return 2
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if atheris_version() else "mutate"
        if engine == "mutate":
            print(
                f"fuzz: atheris is not installed for Python {platform.python_version()}; "
                "using the random-mutation engine (no coverage feedback)",
                flush=True,
            )
    elif engine == "atheris" and not atheris_version():
        print("fuzz: --engine atheris, but atheris is not installed", file=sys.stderr)
        return 2
    clean = True
    for name in names:
        outcome = run_target(name, args.runs, engine, args.seed, args.artifacts)
        print(outcome.line(), flush=True)
        clean = clean and outcome.result == "clean"
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
