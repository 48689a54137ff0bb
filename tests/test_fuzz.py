"""The fuzz targets run clean, and the harness reports a finding.

Each test runs ``python -m fuzz`` as a real process from the checkout, as CI
and the README do: every target for a few thousand inputs with the engine
the environment has (atheris where it is installed, the random-mutation
engine where it is not), every target with the fallback engine on purpose,
and two hidden targets with planted bugs, one of them the framing target
against a decoder carrying a mutant the unit tests once missed. The long
runs are CI's own step (``python -m fuzz all --runs 20000``, in
``.ci/run``) and are recorded in docs/SECURITY.md; here each target shows it
runs clean, which takes far fewer inputs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGETS = (
    "framing",
    "host",
    "joiner",
    "resume",
    "resume-joiner",
    "message",
    "record",
    "routing",
    "codes",
)
RUNS = 500
TIMEOUT = 110
ENGINE = "atheris" if importlib.util.find_spec("atheris") else "mutate"
"""What ``--engine auto`` must pick here: atheris is in the test extra where it has wheels."""


def _fuzz(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    env["PYTHONPATH"] = str(ROOT)  # the checkout's fuzz/ package, from any directory
    return subprocess.run(
        [sys.executable, "-m", "fuzz", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _summary(stdout: str, target: str) -> re.Match[str]:
    line = re.search(
        rf"^fuzz {re.escape(target)} +(?P<runs>\d+) inputs +(?P<result>\S+) +[\d.]+ s +"
        r"(?P<engine>atheris [\w.]+|mutate)(?P<detail>: .*)?$",
        stdout,
        re.MULTILINE,
    )
    assert line, f"no summary line for {target}:\n{stdout}"
    return line


@pytest.mark.parametrize("target", TARGETS)
def test_target_runs_clean(target: str, tmp_path: Path) -> None:
    done = _fuzz(target, "--runs", str(RUNS), "--artifacts", str(tmp_path / "crashes"), cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    line = _summary(done.stdout, target)
    assert line["runs"] == str(RUNS)
    assert line["result"] == "clean"
    assert line["engine"].split()[0] == ENGINE
    assert not (tmp_path / "crashes").exists()


def test_fallback_engine_runs_every_target_clean(tmp_path: Path) -> None:
    done = _fuzz("all", "--runs", "300", "--engine", "mutate", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    for target in TARGETS:
        line = _summary(done.stdout, target)
        assert (line["runs"], line["result"], line["engine"]) == ("300", "clean", "mutate")
    assert "planted" not in done.stdout  # the hidden targets are not part of all


@pytest.mark.parametrize("engine", sorted({ENGINE, "mutate"}))
def test_an_unexpected_exception_is_reported_with_its_input(engine: str, tmp_path: Path) -> None:
    crashes = tmp_path / "crashes"
    done = _fuzz(
        "planted", "--runs", "500", "--engine", engine, "--artifacts", str(crashes), cwd=ROOT
    )
    assert done.returncode == 1, done.stdout + done.stderr
    line = _summary(done.stdout, "planted")
    assert line["result"] == "FAILED"
    assert "KeyError: 'planted bug'" in line["detail"]
    assert "Traceback" in done.stderr
    assert "planted bug" in done.stderr
    (saved,) = crashes.iterdir()
    assert saved.read_bytes().startswith(b"!")
    assert str(saved) in line["detail"]


@pytest.mark.parametrize("engine", sorted({ENGINE, "mutate"}))
def test_a_broken_frame_decoder_is_found(engine: str, tmp_path: Path) -> None:
    """``_take`` without ``self._pos = 0`` survived the unit tests; the framing target finds it."""
    crashes = tmp_path / "crashes"
    done = _fuzz(
        "planted-framing",
        "--runs",
        "2000",
        "--engine",
        engine,
        "--artifacts",
        str(crashes),
        cwd=ROOT,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    line = _summary(done.stdout, "planted-framing")
    assert line["result"] == "FAILED"
    assert line["detail"].startswith(": Broken: the decoder's records differ")
    assert len(list(crashes.iterdir())) == 1


def test_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    done = _fuzz("nosuch", "--runs", "10", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"fuzz: unknown target 'nosuch'; targets: all {' '.join(TARGETS)}"
    ]
    assert "Traceback" not in done.stderr
