"""The README's two commands, and what a wheel built from this tree contains.

CI runs the README's test command, ``./scripts/test``, itself (``.ci/run``);
these tests keep the README, ``.ci/run`` and the package in step, and install the built package
into an empty directory to prove that ``confide`` works from it (data files
such as the word list included).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```\n(.+?)\n```", section)


def test_quick_start_has_exactly_two_commands() -> None:
    commands = _quick_start_commands()
    assert commands == ["pip install . && confide host", "./scripts/test"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = _quick_start_commands()[1]
    # a step whose command is exactly the README's, with nothing added or changed
    steps = [shlex.split(line) for line in ci.splitlines() if line.startswith("step ")]
    assert any(words[2:] == shlex.split(test_command) for words in steps)
    assert (ROOT / test_command).stat().st_mode & 0o111  # executable, as the README runs it
    for check in ("ruff check .", "ruff format --check .", "mypy --strict src"):
        assert check in ci
    mypy = next(words for words in steps if words[1:3] == ["mypy", ".venv/bin/mypy"])
    assert mypy[3:] == ["--strict", "src", "tests", "bench", "fuzz", "scripts"]


def test_built_package_runs_from_a_clean_target(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert (target / "confide" / "protocol" / "words.txt").is_file()
    assert (target / "confide" / "py.typed").is_file()  # type checkers read our annotations
    (info,) = target.glob("confide-*.dist-info")
    license_text = (info / "licenses" / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License\n\nCopyright (c) 2026 confide developers\n")
    assert "License-File: LICENSE" in (info / "METADATA").read_text(encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import confide, sys; from confide.protocol.codes import wordlist;"
        "assert confide.__file__.startswith(sys.argv[1]), confide.__file__;"
        "print(len(wordlist()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "2048"
    helped = subprocess.run(
        [sys.executable, "-m", "confide", "--help"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert helped.returncode == 0
    assert "exit codes" in helped.stdout


def test_readme_names_the_license_and_pipx() -> None:
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert "`pipx install .`" in README
    assert "LICENSE" in README
