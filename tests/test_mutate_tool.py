"""Tests of ``scripts/mutate.py``, the mutation-testing driver, on a throwaway module.

The module and its test live in a temporary directory. ``clamp`` has seven
mutants: its test kills five (the bound moved to 11, the returned values) and
cannot see two (``>`` to ``>=`` and the bound moved to 9: at 10 every variant
returns 10), so the report must name exactly those two survivors, count the
score, and honour an equivalent-mutant list.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "mutate.py"

MODULE = '''"""A tiny module."""


def clamp(x: int) -> int:
    """At most 10."""
    if x > 10:
        return 10
    return x
'''

TEST = """from tiny import clamp


def test_clamp() -> None:
    assert clamp(11) == 10
    assert clamp(3) == 3
"""


def _project(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "src").mkdir()
    (tmp_path / "tests").mkdir()
    module = tmp_path / "src" / "tiny.py"
    module.write_text(MODULE, "utf-8")
    test = tmp_path / "tests" / "test_tiny.py"
    test.write_text(TEST, "utf-8")
    return module, test


def _run(
    module: Path, test: Path, equivalent: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), str(module), "--tests", str(test), "--jobs", "1"]
    return subprocess.run(
        [*command, "--equivalent", str(equivalent), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_mutants_are_listed_in_source_order(tmp_path: Path) -> None:
    module, test = _project(tmp_path)
    done = _run(module, test, tmp_path / "none.txt", "--list")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{module}:6 | `x > 10` -> `x >= 10`",
        f"{module}:6 | `x > 10` -> `x > 11`",
        f"{module}:6 | `x > 10` -> `x > 9`",
        f"{module}:7 | `return 10` -> `return None`",
        f"{module}:7 | `return 10` -> `return 11`",
        f"{module}:7 | `return 10` -> `return 9`",
        f"{module}:8 | `return x` -> `return None`",
    ]


def test_a_killed_and_a_surviving_mutant_are_reported(tmp_path: Path) -> None:
    module, test = _project(tmp_path)
    done = _run(module, test, tmp_path / "none.txt", "--markdown", "--min-score", "90")
    out = done.stdout
    assert f"SURVIVED {module}:6 | `x > 10` -> `x >= 10`" in out
    assert f"SURVIVED {module}:6 | `x > 10` -> `x > 9`" in out
    assert out.count("SURVIVED") == 2
    assert "7 mutants, 0 equivalent, 5 killed, 2 survived, score 71.4% (5/7)" in out
    assert "| `tiny.py` | 7 | 0 | 5 | 2 | 71.4% |" in out
    assert done.returncode == 1  # under --min-score
    assert module.read_text("utf-8") == MODULE  # the sources are never touched


def test_equivalent_mutants_are_left_out_of_the_score(tmp_path: Path) -> None:
    module, test = _project(tmp_path)
    equivalent = tmp_path / "equivalent.txt"
    equivalent.write_text(
        "# module:line | mutation | reason\n"
        f"{module}:6 | `x > 10` -> `x >= 10` | at 10 both branches return 10\n"
        f"{module}:99 | `x > 10` -> `x > 9` | at 10 both return 10 (the line moved)\n"
        f"{module}:3 | `gone` -> `gone` | matches nothing\n",
        "utf-8",
    )
    done = _run(module, test, equivalent, "--min-score", "100")
    out = done.stdout
    assert "SURVIVED" not in out
    assert "7 mutants, 2 equivalent, 5 killed, 0 survived, score 100.0% (5/5)" in out
    assert f"{module}:99 | `x > 10` -> `x > 9` | at 10 both return 10" in out
    assert "(now line 6)" in out
    assert f"equivalent entry matches no mutant: {module}:3 | `gone`" in out
    assert done.returncode == 0


def test_a_selection_of_lines_runs_only_their_mutants(tmp_path: Path) -> None:
    module, test = _project(tmp_path)
    done = _run(module, test, tmp_path / "none.txt", "--lines", "7,8", "--subprocess")
    assert "4 mutants, 0 equivalent, 4 killed, 0 survived, score 100.0% (4/4)" in done.stdout
    assert done.returncode == 0


def test_tests_failing_on_the_unmutated_module_stop_the_run(tmp_path: Path) -> None:
    module, test = _project(tmp_path)
    test.write_text(TEST.replace("== 3", "== 4"), "utf-8")
    done = _run(module, test, tmp_path / "none.txt")
    assert done.returncode != 0
    assert "the tests fail on the unmutated module" in done.stderr
