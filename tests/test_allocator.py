"""``confide.allocator.tune``: glibc's malloc thresholds are set once, in a fresh process."""

from __future__ import annotations

import subprocess
import sys


def test_tune_sets_the_thresholds_once_on_glibc() -> None:
    code = (
        "from confide import allocator;"
        "first = allocator.tune(); second = allocator.tune();"
        "print(first, second)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    # CI and development machines run Debian's glibc, where mallopt accepts both settings.
    assert out.stdout.split() == ["True", "True"]


def test_the_confide_command_tunes_before_a_chat_but_not_for_help() -> None:
    probe = (
        "import os, confide.allocator as a, confide.cli as c;"
        "called = [];"
        "a.tune = lambda: called.append(1) or True;"
        "c.main(['--help']); print('help', len(called));"
        "os.environ['CONFIDE_CODE'] = '7-absurd-ocean-violin';"
        "rc = c.main(['join', '--at', '127.0.0.1:1', '--plain', '--timeout', '2']);"
        "print('join', len(called), rc)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    lines = out.stdout.strip().splitlines()
    assert lines[-2:] == ["help 0", "join 1 4"]  # refused on loopback: exit 4, after tuning
