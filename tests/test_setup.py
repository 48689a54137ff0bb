"""The README's test command on a machine that lacks a system tool.

``scripts/test`` installs missing tools only as root with apt-get; otherwise it
stops with one line naming them and the install command. The fixtures that
need a tool (sshd, tmux, ip) fail with the same kind of line, never with a
``FileNotFoundError`` traceback and never by skipping.

Nothing is uninstalled here: a tool goes "missing" by running with a ``PATH``
that holds links to everything on the real ``PATH`` except that tool.
``CONFIDE_TEST_NOT_ROOT=1`` makes the script act as a user that is not root,
so it never tries to install anything.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from tools import PACKAGES

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "test"
BASH = "/bin/bash"


def path_without(tmp_path: Path, *hidden: str) -> str:
    """A PATH of one directory linking every program on the real PATH but ``hidden``."""
    farm = tmp_path / "bin"
    farm.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not directory or not Path(directory).is_dir():
            continue
        for entry in Path(directory).iterdir():
            link = farm / entry.name
            if entry.name in hidden or link.exists() or link.is_symlink():
                continue
            if entry.is_file() and os.access(entry, os.X_OK):
                link.symlink_to(entry)
    return str(farm)


def ready_venv(tmp_path: Path) -> Path:
    """A venv directory the script takes as made and installed: it runs this Python."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    digest = subprocess.run(
        ["sh", "-c", "cat pyproject.toml scripts/test | cksum"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout.strip()
    (venv / ".confide-test-install").write_text(f"{ROOT} {digest}\n")
    return venv


def run_script(tmp_path: Path, path: str, *, not_root: bool) -> subprocess.CompletedProcess[str]:
    """``scripts/test --version`` with ``path`` and a ready venv (nothing is installed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHON", "VENV")}
    env.update(PATH=path, VENV=str(ready_venv(tmp_path)))
    if not_root:
        env["CONFIDE_TEST_NOT_ROOT"] = "1"
    return subprocess.run(
        [BASH, str(SCRIPT), "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_script_and_the_fixtures_know_the_same_tools() -> None:
    line = next(x for x in SCRIPT.read_text().splitlines() if x.startswith("TOOLS=("))
    pairs = dict(item.split(":") for item in line[len("TOOLS=(") : -1].split())
    assert pairs == PACKAGES


def test_not_root_stops_with_one_line_naming_the_tools_and_the_command(tmp_path: Path) -> None:
    path = path_without(tmp_path, "tmux", "ssh", "ssh-keygen", "redis-server")
    done = run_script(tmp_path, path, not_root=True)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "scripts/test: missing on PATH: tmux, ssh, ssh-keygen, redis-server; "
        "install with: sudo apt-get install -y openssh-client redis-server tmux\n"
    )


def test_without_apt_get_it_stops_with_one_line_too(tmp_path: Path) -> None:
    done = run_script(tmp_path, path_without(tmp_path, "tmux", "apt-get"), not_root=False)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert re.fullmatch(
        r"scripts/test: missing on PATH: tmux; install with: (sudo )?apt-get install -y tmux "
        r"\(Debian/Ubuntu package names; this system has no apt-get\)",
        lines[0],
    ), lines[0]


def test_with_every_tool_present_it_runs_pytest_with_the_arguments(tmp_path: Path) -> None:
    done = run_script(tmp_path, os.environ["PATH"], not_root=True)
    assert done.returncode == 0, done.stderr
    assert re.match(r"pytest \d+\.\d+", done.stdout + done.stderr)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("test", "tool", "package"),
    [
        ("test_tunnel.py::test_chat_both_ways_through_the_ssh_tunnel", "sshd", "openssh-server"),
        ("test_tmux_e2e.py::test_two_full_screen_clients_chat_in_tmux", "tmux", "tmux"),
        ("test_discovery.py::test_joiner_finds_the_host_with_only_the_code", "ip", "iproute2"),
    ],
    ids=["sshd", "tmux", "ip"],
)
def test_a_fixture_without_its_tool_fails_with_one_line(
    tmp_path: Path, test: str, tool: str, package: str
) -> None:
    env = {**os.environ, "PATH": path_without(tmp_path, tool)}
    # none of these tests uses Hypothesis or snapshots: leaving their plugins out
    # saves most of the child's start-up, and a fixture's error is the same without them
    unused = ["-p", "no:hypothesispytest", "-p", "no:textual-snapshot", "-p", "no:syrupy"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *unused, "-n", "0", "-q", test],
        cwd=ROOT / "tests",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    line = (
        f"missing on PATH: {tool}; install with: sudo apt-get install -y {package} "
        "(./scripts/test does it when run as root)"
    )
    assert line in out
    assert "1 error" in out  # the fixture failed: no skip, no pass
    for noise in ("Traceback", "FileNotFoundError", "skipped"):
        assert noise not in out


def test_ci_runs_every_python_the_classifiers_name() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    prefix = "Programming Language :: Python :: "
    named = {c.removeprefix(prefix) for c in project["classifiers"] if c.startswith(prefix)}
    assert project["requires-python"] == ">=3.11"
    assert named == {"3.11", "3.12", "3.13"}
    ci = (ROOT / ".ci" / "run").read_text()
    loop = re.search(r"^for version in ([\d. ]+); do$", ci, re.M)
    assert loop is not None
    assert set(loop.group(1).split()) == named - {"3.11"}  # 3.11: the default python3 suite
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".venv/" in ignored
    assert ".venv-*/" in ignored  # .venv-3.12, .venv-3.13, .venv-min
