"""Secrets from the environment leave it once read, and never reach a child.

``/proc/PID/environ`` shows a process's initial environment, not what it
holds now, so these tests look from inside: after ``take_environment`` (the
first thing ``confide`` does) neither ``os.environ`` nor a plain child
process started afterwards sees ``CONFIDE_CODE`` or ``CONFIDE_PASSWORD``.
The end-to-end check with a real ssh child is in ``test_tunnel.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from confide import secrets_input
from confide.errors import UsageError

PROBE = "import os; print(sorted(k for k in os.environ if k.startswith('CONFIDE_')))"


@pytest.fixture
def secrets_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets_input, "_taken", {}, raising=False)
    monkeypatch.setenv("CONFIDE_PASSWORD", "correct horse")
    monkeypatch.setenv("CONFIDE_CODE", "7-abandon-ability-able")
    monkeypatch.setenv("CONFIDE_UNRELATED", "kept")


def _child_sees() -> str:
    argv = [sys.executable, "-c", PROBE]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


@pytest.mark.usefixtures("secrets_set")
def test_reading_a_secret_removes_both_from_the_environment() -> None:
    assert "CONFIDE_PASSWORD" in _child_sees()  # before: a child would inherit it
    value = secrets_input.secret_from(None, "CONFIDE_PASSWORD", "password: ", "password")
    assert value == "correct horse"
    assert "CONFIDE_PASSWORD" not in os.environ
    assert "CONFIDE_CODE" not in os.environ
    assert _child_sees() == "['CONFIDE_UNRELATED']"
    code = secrets_input.secret_from(None, "CONFIDE_CODE", "code: ", "code")
    assert code == "7-abandon-ability-able"  # still readable from where it was kept


@pytest.mark.usefixtures("secrets_set")
def test_the_command_takes_them_before_anything_else() -> None:
    from confide import cli

    assert cli.main(["--version"]) == 0
    assert "CONFIDE_PASSWORD" not in os.environ
    assert "CONFIDE_CODE" not in os.environ


@pytest.mark.usefixtures("secrets_set")
def test_a_child_environment_never_holds_them_even_if_set_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secrets_input.take_environment()
    monkeypatch.setenv("CONFIDE_PASSWORD", "set again by someone")
    env = secrets_input.child_environment()
    assert "CONFIDE_PASSWORD" not in env
    assert "CONFIDE_CODE" not in env
    assert env["CONFIDE_UNRELATED"] == "kept"
    assert env["PATH"] == os.environ["PATH"]


def test_a_variable_that_is_not_utf8_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets_input, "_taken", {}, raising=False)
    monkeypatch.setenv("CONFIDE_PASSWORD", os.fsdecode(b"pass\xffword"))
    with pytest.raises(UsageError, match=r"^CONFIDE_PASSWORD is not valid UTF-8$"):
        secrets_input.secret_from(None, "CONFIDE_PASSWORD", "password: ", "password")
    assert "CONFIDE_PASSWORD" not in os.environ
