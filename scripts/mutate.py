"""Mutation testing, one module at a time: would the unit tests notice a broken core?

Usage::

    python scripts/mutate.py src/confide/protocol/records.py
    python scripts/mutate.py src/confide/protocol/*.py --markdown
    python scripts/mutate.py MODULE [--sample N --seed S] [--tests tests/test_x.py ...]
                                    [--lines 121,139] [--jobs 2] [--list] [--min-score 95]

How this works. The module is parsed with ``ast`` and every *mutant* is one
small change to it: an arithmetic operator swapped (``+ -``, ``* //``,
``<< >>``, ``& |``), a comparison moved by one (``< <=``, ``> >=``) or negated
(``== !=``, ``in``/``not in``, ``is``/``is not``), ``and``/``or`` swapped, a
``not`` dropped, an integer constant moved by +1 and -1, ``True``/``False``
swapped, a statement inside a function deleted (an assignment, a call, a
``raise``, a ``break``...), or a returned value replaced by ``None``.
Annotations and docstrings are never mutated, nor any line marked
``# pragma: no mutate``. The mutants are numbered in source order, so a run is
deterministic; ``--sample N --seed S`` picks the same N every time.

Each mutant is run in a private copy of the module's package in a temporary
directory (put first on ``PYTHONPATH``), never in the work tree, so an
interrupted run leaves the sources untouched. Only the tests mapped to the
module run (``TESTS`` below, or ``--tests``), with ``-x`` and a fixed
Hypothesis seed, under a per-mutant timeout, ``--jobs`` at a time. A mutant
is *killed* when the tests fail (or time out), and *survives* when they pass.

Some mutants cannot change behaviour (``equivalent``): each is listed, with
the reason, in ``scripts/mutate-equivalent.txt``, reviewed by hand, one per
line::

    src/confide/protocol/records.py:174 | `a // b` -> `a * b` | why it is equivalent
    src/confide/protocol/messages.py:* | `slots=True` -> `slots=False` | why (every line)

An entry is matched by module, mutation and line; if the line moved, a unique
match of module and mutation still counts (and is reported, to update the
line). An entry that matches nothing is reported too. The score is
killed / (mutants - equivalent). ``--markdown`` prints the per-module table
that ``docs/SECURITY.md`` records.
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib.metadata
import multiprocessing
import multiprocessing.context
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "scripts" / "mutate-equivalent.txt"
_P = "src/confide/protocol/"
TESTS: dict[str, list[str]] = {
    # Checked by hand: these are the unit tests that exercise each module directly.
    _P + "framing.py": ["tests/test_framing.py"],
    _P + "records.py": ["tests/test_records.py"],
    _P + "connection.py": [
        "tests/test_handshake.py",
        "tests/test_vectors.py",
        "tests/test_guess_policy.py",
    ],
    _P + "handshake.py": ["tests/test_handshake.py", "tests/test_vectors.py"],
    _P + "codes.py": ["tests/test_codes.py"],
    _P + "messages.py": ["tests/test_messages.py"],
    _P + "keyschedule.py": ["tests/test_vectors.py", "tests/test_records.py"],
    _P + "sas.py": ["tests/test_vectors.py", "tests/test_handshake.py"],
}
PRELOAD = [
    # imported once by the fork server, so each mutant's run starts warm; never the
    # project itself, which every child must import afresh from its mutated copy
    "pytest",
    "_pytest.python",
    "hypothesis",
    "msgpack",
    "cpace",
    "cryptography.hazmat.primitives.ciphers.aead",
    "cryptography.hazmat.primitives.kdf.hkdf",
    # and pytest's installed plugins (textual's snapshot plugin imports textual), which
    # pytest.main would otherwise import again in every child
    *sorted({e.module for e in importlib.metadata.entry_points(group="pytest11")}),
]
PYTEST_ARGS = [
    "-o",
    "addopts=",
    "-W",
    "error",
    "-W",  # the preloaded plugins (Hypothesis) are imported before pytest could rewrite them
    "ignore::pytest.PytestAssertRewriteWarning",
    "-x",
    "-q",
    "-p",
    "no:xdist",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:randomly",
    "--hypothesis-seed=0",
]

_BINOP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
    ast.BitXor: ast.BitOr,
}
_CMPOP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_DELETABLE = (
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Expr,
    ast.Raise,
    ast.Delete,
    ast.Break,
    ast.Continue,
)


@dataclass(frozen=True)
class Mutant:
    """One change to the module: site ``site`` (walk order), variant ``variant``."""

    site: int
    variant: int
    line: int
    description: str


@dataclass
class Result:
    """What the tests made of the mutants of one module."""

    module: str
    total: int = 0
    killed: int = 0
    equivalent: list[Mutant] = field(default_factory=list)
    survivors: list[Mutant] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Killed over non-equivalent mutants, in percent."""
        live = self.total - len(self.equivalent)
        return 100.0 * self.killed / live if live else 100.0


def _short(node: ast.AST, limit: int = 70) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _sites(tree: ast.AST, skip_lines: set[int]) -> Iterator[tuple[ast.AST, ast.AST | None, bool]]:
    """Every node that may be mutated, in a fixed order, with its parent and if in a function.

    Annotations and docstrings are left out: under ``from __future__ import
    annotations`` they are strings, so changing them changes nothing.
    """

    def walk(
        node: ast.AST, parent: ast.AST | None, in_func: bool
    ) -> Iterator[tuple[ast.AST, ast.AST | None, bool]]:
        if getattr(node, "lineno", None) in skip_lines:
            return
        yield node, parent, in_func
        inner = in_func or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns", "type_comment"):
                continue
            children = value if isinstance(value, list) else [value]
            for i, child in enumerate(children):
                if not isinstance(child, ast.AST):
                    continue
                if name == "body" and i == 0 and _is_docstring(child):
                    continue
                yield from walk(child, node, inner)

    yield from walk(tree, None, False)


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _variants(node: ast.AST, parent: ast.AST | None, in_func: bool) -> list[str]:
    """The descriptions of the mutations of one node (empty if none); ``_mutate`` applies them."""
    out: list[str] = []
    if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _BINOP:
        out.append("op")
    elif isinstance(node, ast.Compare):
        out += [f"cmp{i}" for i, op in enumerate(node.ops) if type(op) in _CMPOP]
    elif isinstance(node, ast.BoolOp):
        out.append("boolop")
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        out.append("not")
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        out.append("flip")
    elif isinstance(node, ast.Constant) and isinstance(node.value, int):
        out += ["+1", "-1"]
    if in_func and isinstance(node, _DELETABLE) and not _is_docstring(node):
        out.append("delete")
    if (
        isinstance(node, ast.Return)
        and node.value is not None
        and not (isinstance(node.value, ast.Constant) and node.value.value is None)
    ):
        out.append("none")
    return out


def _mutate(node: ast.AST, parent: ast.AST | None, how: str) -> tuple[ast.AST, ast.AST]:
    """Apply mutation ``how`` in place; return the nodes to show before and after."""
    context = (ast.expr, ast.keyword, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return)
    shown = parent if isinstance(node, ast.Constant) and isinstance(parent, context) else node
    assert shown is not None
    before = copy.deepcopy(shown)
    if how == "op":
        assert isinstance(node, ast.BinOp | ast.AugAssign)
        node.op = _BINOP[type(node.op)]()
    elif how.startswith("cmp"):
        assert isinstance(node, ast.Compare)
        i = int(how[3:])
        node.ops[i] = _CMPOP[type(node.ops[i])]()
    elif how == "boolop":
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif how == "flip":
        assert isinstance(node, ast.Constant)
        node.value = not node.value
    elif how in ("+1", "-1"):
        assert isinstance(node, ast.Constant)
        assert isinstance(node.value, int)
        node.value += int(how)
    elif how == "none":
        assert isinstance(node, ast.Return)
        node.value = ast.Constant(None)
    return before, shown


def _replace_in_parent(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for name, value in ast.iter_fields(parent):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is old:
                    value[i] = new
                    return
        elif value is old:
            setattr(parent, name, new)
            return
    raise AssertionError("node not found in its parent")


def _skip_lines(source: str) -> set[int]:
    return {i for i, text in enumerate(source.splitlines(), 1) if "pragma: no mutate" in text}


def mutants(source: str) -> list[Mutant]:
    """Every mutant of ``source``, in source order."""
    tree = ast.parse(source)
    found = []
    for site, (node, parent, in_func) in enumerate(_sites(tree, _skip_lines(source))):
        for variant, _how in enumerate(_variants(node, parent, in_func)):
            _, desc = _apply(tree, site, variant, source)
            found.append(Mutant(site, variant, getattr(node, "lineno", 0), desc))
    return found


def _apply(tree: ast.Module, site: int, variant: int, source: str) -> tuple[str, str]:
    """The mutated source of one mutant and its one-line description."""
    tree = copy.deepcopy(tree)
    node, parent, in_func = list(_sites(tree, _skip_lines(source)))[site]
    how = _variants(node, parent, in_func)[variant]
    if how == "not":
        assert isinstance(node, ast.UnaryOp)
        assert parent is not None
        desc = f"`{_short(node)}` -> `{_short(node.operand)}`"
        _replace_in_parent(parent, node, node.operand)
    elif how == "delete":
        assert parent is not None
        desc = f"delete `{_short(node)}`"
        _replace_in_parent(parent, node, ast.Pass())
    else:
        before, after = _mutate(node, parent, how)
        desc = f"`{_short(before)}` -> `{_short(after)}`"
    return ast.unparse(ast.fix_missing_locations(tree)), desc


def mutated_source(source: str, mutant: Mutant) -> str:
    """The whole module's source with ``mutant`` applied."""
    return _apply(ast.parse(source), mutant.site, mutant.variant, source)[0]


# -- equivalent mutants -------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One reviewed line of the equivalent-mutant list."""

    module: str
    line: int
    description: str
    text: str


def read_equivalent(path: Path) -> list[Entry]:
    """The entries of ``path`` (``module:line | mutation | reason``); none if it is missing."""
    if not path.exists():
        return []
    entries = []
    for text in path.read_text("utf-8").splitlines():
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        where, _, rest = text.partition(" | ")
        mutation, _, reason = rest.rpartition(" | ")  # a mutation may hold " | " itself
        module, _, line = where.strip().rpartition(":")
        if not (module and mutation.strip() and reason.strip()) or not (
            line.isdigit() or line == "*"
        ):
            raise SystemExit(f"{path}: malformed line (module:line | mutation | reason): {text}")
        entries.append(Entry(module, 0 if line == "*" else int(line), mutation.strip(), text))
    return entries


def match_equivalent(
    module: str, found: list[Mutant], entries: list[Entry], result: Result
) -> set[Mutant]:
    """The mutants that entries mark equivalent; note entries whose line moved or is gone."""
    mine = [e for e in entries if e.module == module]
    marked: set[Mutant] = set()
    for entry in mine:
        if not entry.line:  # ``module:*``: the same mutation on every line is equivalent
            every = [m for m in found if m.description == entry.description]
            marked.update(every)
            if not every:
                result.unused.append(entry.text)
            continue
        exact = [m for m in found if m.line == entry.line and m.description == entry.description]
        loose = [m for m in found if m.description == entry.description and m not in marked]
        if exact:
            marked.add(exact[0])
        elif len(loose) == 1:
            marked.add(loose[0])
            result.moved.append(f"{entry.text}  (now line {loose[0].line})")
        else:
            result.unused.append(entry.text)
    return marked


# -- running ------------------------------------------------------------------


def _package_root(module: Path) -> tuple[Path, Path]:
    """(directory that goes on ``sys.path``, top-level package dir or the module itself)."""
    top = module
    while (top.parent / "__init__.py").exists():
        top = top.parent
    return top.parent, top


class Runner:
    """Runs the tests against mutated copies, one private copy of the package per job."""

    def __init__(self, module: Path, tests: list[Path], jobs: int, fork: bool = True) -> None:
        self.forks: multiprocessing.context.ForkServerContext | None = None
        if fork:
            self.forks = multiprocessing.get_context("forkserver")
            self.forks.set_forkserver_preload(PRELOAD)
        self.module = module
        self.tests = tests
        self.base, self.top = _package_root(module)
        self.rel = module.relative_to(self.base)
        self.tmp = Path(tempfile.mkdtemp(prefix="mutate-"))
        self.free: list[Path] = []
        self.lock = threading.Lock()
        self.timeout = 60.0
        for j in range(jobs):
            work = self.tmp / f"job{j}"
            work.mkdir()
            ignore = shutil.ignore_patterns("__pycache__")
            if self.top.is_dir():
                shutil.copytree(self.top, work / self.top.name, ignore=ignore)
            else:
                shutil.copy2(self.top, work / self.top.name)
            self.free.append(work)

    def _run_forked(self, work: Path) -> str:
        """``run`` in a child of a fork server that has pytest and friends imported already."""
        assert self.forks is not None
        child = self.forks.Process(
            target=_pytest_child, args=(str(work), list(map(str, self.tests)))
        )
        child.start()
        child.join(self.timeout)
        if child.exitcode is None:  # a timeout, or we are interrupted: never leave it behind
            child.kill()
            child.join()
            return "timeout"
        return "passed" if child.exitcode == 0 else "failed"

    def close(self) -> None:
        """Remove every copy."""
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, source: str) -> str:
        """``passed``, ``failed`` or ``timeout``: the tests against ``source`` as the module."""
        with self.lock:
            work = self.free.pop()
        try:
            (work / self.rel).write_text(source, "utf-8")
            env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(work), env.get("PYTHONPATH", "")) if p
            )
            if self.forks is not None:
                return self._run_forked(work)
            cmd = [sys.executable, "-m", "pytest", *PYTEST_ARGS, *map(str, self.tests)]
            proc = subprocess.Popen(
                cmd,
                cwd=work,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                rc = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return "timeout"
            finally:
                if proc.poll() is None:  # interrupted: never leave a pytest behind
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            return "passed" if rc == 0 else "failed"
        finally:
            with self.lock:
                self.free.append(work)


def _pytest_child(work: str, tests: list[str]) -> None:
    """In a forked child: the mutated copy first on ``sys.path``, then pytest, quietly."""
    sys.dont_write_bytecode = True
    os.chdir(work)
    sys.path.insert(0, work)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    import pytest

    os._exit(int(pytest.main([*PYTEST_ARGS, *tests])))


def _display(module: Path) -> str:
    try:
        return str(module.relative_to(ROOT))
    except ValueError:
        return str(module)


def run_module(module: Path, tests: list[Path], args: argparse.Namespace) -> Result:
    """Generate, filter and run the mutants of one module; print survivors as they appear."""
    name = _display(module)
    source = module.read_text("utf-8")
    found = mutants(source)
    result = Result(name)
    if args.lines:
        found = [m for m in found if m.line in args.lines]
    if args.sample and args.sample < len(found):
        rng = random.Random(args.seed)  # noqa: S311 - a reproducible sample, not a secret
        found = sorted(rng.sample(found, args.sample), key=lambda m: m.site)
    if args.list:
        for m in found:
            print(f"{name}:{m.line} | {m.description}")
        result.total = len(found)
        return result
    equivalent = match_equivalent(name, found, read_equivalent(args.equivalent), result)
    if args.lines or args.sample:  # entries for mutants not selected are not stale
        result.unused.clear()
    result.total = len(found)
    result.equivalent = [m for m in found if m in equivalent]
    todo = [m for m in found if m not in equivalent]
    runner = Runner(module, tests, args.jobs, fork=not args.subprocess)
    try:
        started = time.monotonic()
        if runner.run(ast.unparse(ast.parse(source))) != "passed":
            raise SystemExit(f"{name}: the tests fail on the unmutated module; fix them first")
        # A mutant that loops forever costs this much; 4 times a clean run absorbs load.
        runner.timeout = max(20.0, 4 * (time.monotonic() - started))
        print(
            f"{name}: {len(found)} mutants, {len(equivalent)} equivalent, "
            f"{len(todo)} to run, {args.jobs} at a time",
            flush=True,
        )
        pool = ThreadPoolExecutor(args.jobs)
        try:
            outcomes = pool.map(lambda m: runner.run(mutated_source(source, m)), todo)
            for mutant, outcome in zip(todo, outcomes, strict=True):
                if outcome == "passed":
                    result.survivors.append(mutant)
                    print(f"  SURVIVED {name}:{mutant.line} | {mutant.description}", flush=True)
                else:
                    result.killed += 1
        finally:  # on Ctrl-C, run nothing more; the runs under way end within their timeout
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        runner.close()
    return result


def _lines(text: str) -> set[int]:
    return {int(x) for x in text.split(",") if x}


def main(argv: list[str] | None = None) -> int:
    """Run the mutants of each module given; exit 1 if a score is under ``--min-score``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="+", type=Path)
    parser.add_argument("--tests", nargs="+", type=Path, help="test files (default: TESTS map)")
    parser.add_argument("--sample", type=int, default=0, help="run only N mutants per module")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample")
    parser.add_argument("--lines", type=_lines, default=set(), help="only these lines: 12,40")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--subprocess", action="store_true", help="a fresh interpreter per mutant (slower)"
    )
    parser.add_argument("--equivalent", type=Path, default=EQUIVALENT)
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--markdown", action="store_true", help="end with a markdown table")
    parser.add_argument("--min-score", type=float, default=0.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as on Ctrl-C
    results = []
    for given in args.modules:
        module = given.resolve()
        tests = args.tests or [ROOT / t for t in TESTS.get(_display(module), [])]
        if not tests:
            raise SystemExit(f"{_display(module)}: no tests mapped to it; pass --tests")
        result = run_module(module, [t.resolve() for t in tests], args)
        results.append(result)
        if args.list:
            continue
        for text in result.moved:
            print(f"  equivalent entry moved: {text}")
        for text in result.unused:
            print(f"  equivalent entry matches no mutant: {text}")
        live = result.total - len(result.equivalent)
        print(
            f"{result.module}: {result.total} mutants, {len(result.equivalent)} equivalent, "
            f"{result.killed} killed, {len(result.survivors)} survived, "
            f"score {result.score:.1f}% ({result.killed}/{live})",
            flush=True,
        )
    if args.markdown and not args.list:
        print("\n| module | mutants | equivalent | killed | survived | score |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in results:
            print(
                f"| `{Path(r.module).name}` | {r.total} | {len(r.equivalent)} | {r.killed} "
                f"| {len(r.survivors)} | {r.score:.1f}% |"
            )
    return 0 if all(r.score >= args.min_score for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
