"""Textual is imported only when the full-screen interface starts.

A ``sitecustomize`` put on ``PYTHONPATH`` installs an import hook in every
``confide`` process of these tests: any attempt to import ``textual`` writes
a marker file and fails. ``confide --help``, ``--print-config``, a usage
error and a real line-mode chat (host and joiner, messages both ways, on
pipes, so no ``--plain`` is needed) must leave no marker. A control test shows
the hook does catch an import of Textual. ``-X importtime`` double-checks
``--help`` by listing every module it imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from proc import Launcher, confide_command, connected, message_line

HOOK = '''
import os, sys

class _NoTextual:
    """Record and refuse any import of textual (installed by the test's sitecustomize)."""

    def find_spec(self, name, path=None, target=None):
        if name == "textual" or name.startswith("textual."):
            with open(os.environ["CONFIDE_TEXTUAL_MARKER"], "a") as marker:
                marker.write(f"{name} imported by pid {os.getpid()}\\n")
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, _NoTextual())
'''


@pytest.fixture
def hook(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment that installs the hook; yields it, then checks the marker."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    marker = tmp_path / "textual-imported.txt"
    yield {"PYTHONPATH": str(site), "CONFIDE_TEXTUAL_MARKER": str(marker)}
    assert not marker.exists(), marker.read_text(encoding="utf-8")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    full.update(env)
    return subprocess.run(args, capture_output=True, text=True, env=full, timeout=30, check=False)


def test_the_hook_does_catch_textual(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    marker = tmp_path / "marker.txt"
    env = {"PYTHONPATH": str(site), "CONFIDE_TEXTUAL_MARKER": str(marker)}
    done = _run([sys.executable, "-c", "import confide.ui.tui.app"], env)
    assert done.returncode != 0
    assert "textual" in marker.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "args", [["--help"], ["host", "--help"], ["--print-config"], ["--version"], ["host", "--bad"]]
)
def test_help_and_simple_commands_never_import_textual(
    hook: dict[str, str], args: list[str]
) -> None:
    done = _run([*confide_command(), *args], hook)
    assert done.returncode in (0, 2), done.stderr
    assert "Traceback" not in done.stderr


def test_help_imports_no_textual_module_at_all() -> None:
    code = "import sys; sys.argv = ['confide', '--help']; from confide.cli import main; main()"
    done = _run([sys.executable, "-X", "importtime", "-c", code], {})
    assert "usage: confide" in done.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert "confide.cli" in imported  # the listing is real
    assert not [m for m in imported if m == "textual" or m.startswith("textual.")]


def test_a_line_mode_chat_never_imports_textual(hook: dict[str, str], confide: Launcher) -> None:
    # no --plain: stdin and stdout are pipes, so confide must choose line mode by itself
    host = confide.run("host", "--bind", "127.0.0.1", "--port", "0", "--name", "alice", env=hook)
    port = int(host.expect_err(r"^listening on 127\.0\.0\.1:(\d+)$").group(1))
    code = host.expect_err(r"^code: (\S+)$").group(1)
    bob = confide.run(
        "join", "--at", f"127.0.0.1:{port}", "--name", "bob",
        env={**hook, "CONFIDE_CODE": code}, label="join",
    )  # fmt: skip
    connected(host, bob)
    bob.say("hello alice")
    host.expect_out(message_line("bob", "hello alice"))
    host.say("/me waves")
    bob.expect_out(r"^\d\d:\d\d \* alice waves$")
    host.say("/nick alicia")
    host.say("hi bob")
    bob.expect_out(message_line("alicia", "hi bob"))
    bob.say("bye")
    assert bob.wait() == 0
    assert host.wait() == 0
