"""``confide completion bash|zsh|fish`` prints a working completion script.

The bash script is loaded into a real ``bash`` and its completion function
is called the way bash calls it on TAB (``COMP_WORDS``/``COMP_CWORD``), so
``confide jo<TAB>`` and ``confide host --pa<TAB>`` must give the right words.
fish is asked with ``complete -C``; zsh must register the script for
``confide`` through ``compinit``. Both shells are real (``./scripts/test``
installs them; a missing one fails the test with one line). ``--help`` must
not load ``shtab``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from proc import confide_command
from tools import require

SUBCOMMANDS = ("host", "join", "send", "receive", "relay", "id", "contacts", "completion")

BASH_DRIVER = r"""
eval "$(cat "$1")"
spec=$(complete -p confide) || exit 3
fn=${spec#*-F }; fn=${fn%% *}
shift
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
COMPREPLY=()
"$fn" confide "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""


def _script(shell: str, tmp_path: Path) -> Path:
    done = subprocess.run(
        [*confide_command(), "completion", shell],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    path = tmp_path / f"confide.{shell}"
    path.write_text(done.stdout, encoding="utf-8")
    return path


def _bash_complete(script: Path, *words: str) -> list[str]:
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", BASH_DRIVER, "driver", str(script), *words],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completes_subcommands_and_options(tmp_path: Path) -> None:
    script = _script("bash", tmp_path)
    assert _bash_complete(script, "confide", "jo") == ["join"]
    assert _bash_complete(script, "confide", "host", "--pa") == ["--password", "--password-file"]
    assert _bash_complete(script, "confide", "") == list(SUBCOMMANDS)
    assert _bash_complete(script, "confide", "completion", "") == ["bash", "zsh", "fish"]
    assert _bash_complete(script, "confide", "contacts", "") == ["forget"]
    assert _bash_complete(script, "confide", "join", "--ti") == ["--timeout"]
    (tmp_path / "chat-2026.log").touch()
    assert _bash_complete(script, "confide", "join", "--log", str(tmp_path / "chat-")) == [
        str(tmp_path / "chat-2026.log")
    ]
    (tmp_path / "work.pem").touch()
    for command in ("id", "host"):
        assert _bash_complete(script, "confide", command, "--identity", str(tmp_path / "wo")) == [
            str(tmp_path / "work.pem")
        ]


def test_fish_completes_subcommands_and_options(tmp_path: Path) -> None:
    script = _script("fish", tmp_path)
    text = script.read_text(encoding="utf-8")
    assert "complete -c confide" in text
    for word in SUBCOMMANDS:
        assert f"-a {word} " in text
    fish = require("fish")["fish"]
    done = subprocess.run(
        [fish, "--no-config", "-c",
         f"source {script}; complete -C 'confide jo'; complete -C 'confide host --pa'"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    words = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert words == ["join", "--password", "--password-file"]


def test_zsh_script_registers_for_confide(tmp_path: Path) -> None:
    script = _script("zsh", tmp_path)
    text = script.read_text(encoding="utf-8")
    assert text.startswith("#compdef confide")
    for word in SUBCOMMANDS:
        assert f"{word}:" in text
    assert "--password-file" in text
    zsh = require("zsh")["zsh"]
    functions = tmp_path / "fpath"
    functions.mkdir()
    shutil.copy(script, functions / "_confide")
    check = (
        f"fpath=({functions} $fpath); autoload -Uz compinit; "
        f"compinit -u -d {tmp_path / 'zcompdump'}; print -r -- $_comps[confide]"
    )
    done = subprocess.run(
        [zsh, "-f", "-c", check], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "_confide"
    syntax = subprocess.run(
        [zsh, "-n", str(script)], capture_output=True, text=True, timeout=30, check=False
    )
    assert syntax.returncode == 0, syntax.stderr


@pytest.mark.parametrize("shell", ["tcsh", ""])
def test_an_unknown_shell_is_a_usage_error(shell: str) -> None:
    done = subprocess.run(
        [*confide_command(), "completion", shell],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "invalid choice" in done.stderr
    assert done.stdout == ""


def test_help_does_not_import_shtab() -> None:
    code = "import sys; from confide.cli import main; sys.argv = ['confide', '--help']; main()"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert "completion" in done.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert "confide.cli" in imported
    assert "shtab" not in imported
    assert "confide.completion" not in imported
