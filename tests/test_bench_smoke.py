"""Smoke test of the benchmark suite: every scenario runs and reports its figures.

It runs ``python -m bench --tiny --json -`` as a real process: every scenario
once, with tiny sizes, against real sockets, a real ``confide relay`` and real
``confide`` processes. It checks only that every figure the suite promises is
there and sane (measured, positive, finite, min <= median <= max, a ratio
where there is a baseline) and that the human table shows each of them. It
never checks how fast anything is: benchmarks are not tests. The one figure
allowed to be missing is the files scenario's optional peer, magic-wormhole,
when it is not installed: its row must then say so, and the run still succeeds.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import wormhole
from bench.core import Figure

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 100
NAME_WIDTH = 32
"""Width of the figure-name column in the table (``bench.report.NAME_WIDTH``)."""

EXPECTED: dict[str, list[str]] = {
    "handshake": [
        "confide connect->confirmed",
        "confide connect->confirmed, v3",
        "KEM step added cost",
        "KEM step bytes on the wire",
        "confide resume->confirmed",
        "bare X25519 exchange",
        "confide in memory (no sockets)",
    ],
    "chat": [
        f"{variant} {p}"
        for variant in (
            "tcp echo",
            "tcp+aead echo",
            "confide direct",
            "confide resumable",
            "confide relay",
            "session receipt",
            "tcp+aead forwarded",
        )
        for p in ("p50", "p99")
    ]
    + ["codec: raw seal+open", "codec: chat one way"],
    "bulk": [
        f"{variant}{cpu}"
        for variant in ("tcp stream", "tcp+aead stream", "confide direct", "confide relay")
        for cpu in ("", ": CPU/GiB")
    ],
    "relay": [
        "100 idle: added RSS/conn",
        "100 idle: bare added/conn",
        "100 idle: peak RSS/conn",
        "100 idle: bare peak/conn",
        "forwarding, 4 active pairs",
        "bare forwarder, 4 pairs",
        "relay CPU per GiB forwarded",
        "bare forwarder CPU per GiB",
        "new pair meets, under load",
        "new pair meets, relay idle",
    ],
    "startup": ["confide --help", "python -c pass", "ready line-mode client"],
    "first-message": [
        "first message",
        "host: start to code line",
        "joiner: start to first line",
        "python -c pass",
    ],
    "room": [
        "load: msgs lost, 4 members",
        "load: delivery p50",
        "load: delivery p99",
        "load: hub CPU/1k deliveries",
        "load, 4 members: p50",
        "load, 4 members: p99",
        "peak: bare fan-out hub (AEAD)",
        "peak: confide host",
    ],
    "resume": ["back -> delivered at host", "back -> delivered at joiner"],
    "files": [
        "tcp+aead stream, disk to disk",
        "confide send/receive, direct",
        "confide send/receive, relay",
        "confide in a chat session",
        "chat p50 during transfer",
        "chat p99 during transfer",
        "receiver peak RSS, direct",
        "receiver peak RSS, relay",
    ],
    "cluster": [
        "redirected meet",
        "cluster meet, no redirect",
        "single-node meet",
        "rooms/s, 3 nodes",
        "rooms/s, 1 node",
        "forwarding, 3 nodes",
        "forwarding, 1 node",
    ],
}
OPTIONAL_PEER = "magic-wormhole"
"""The files scenario's optional peer: measured when installed, else a row saying so."""
ZERO_IS_A_VALUE = ("load: msgs lost",)
"""Figures whose ideal is 0 (a count of what went wrong): 0 is a measurement there."""
DIFFERENCES = ("KEM step added cost",)
"""Figures that are one time minus another, taken back to back: on a busy machine a
single sample may come out below 0, and that is still a measurement."""


@pytest.fixture(scope="module")
def report() -> tuple[dict[str, Any], str, int]:
    """One tiny run of the whole suite: (JSON report, table on stderr, exit status)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--json", "-"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.stdout.strip(), f"no JSON on stdout; stderr:\n{done.stderr[-2000:]}"
    return json.loads(done.stdout), done.stderr, done.returncode


def _figures(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["scenario"], f["name"]): f for f in doc["figures"]}


@pytest.mark.slow
def test_every_promised_figure_is_measured(report: tuple[dict[str, Any], str, int]) -> None:
    doc, table, status = report
    figures = _figures(doc)
    missing = [
        (scenario, name)
        for scenario, names in EXPECTED.items()
        for name in names
        if (scenario, name) not in figures
    ]
    assert not missing, f"figures missing from the report: {missing}"
    unmeasured = {
        k: f["unavailable"] for k, f in figures.items() if "unavailable" in f and not f["optional"]
    }
    assert not unmeasured, f"figures not measured: {unmeasured}"
    assert status == 0, table[-2000:]


@pytest.mark.slow
def test_figures_are_sane(report: tuple[dict[str, Any], str, int]) -> None:
    doc, _, _ = report
    figures = _figures(doc)
    for key, fig in figures.items():
        if "unavailable" in fig:
            continue  # only an optional peer (the test above fails on any other)
        values = [fig["median"], fig["min"], fig["max"], *fig["samples"]]
        assert all(isinstance(v, float | int) and math.isfinite(v) for v in values), key
        if fig["name"].startswith(DIFFERENCES):
            pass  # any finite value (checked above)
        elif fig["name"].startswith(ZERO_IS_A_VALUE):
            assert all(v >= 0 for v in values), (key, values)
        else:
            assert all(v > 0 for v in values), (key, values)
        assert fig["min"] <= fig["median"] <= fig["max"], key
        assert fig["runs"] == len(fig["samples"]) >= 1, key
        if fig["baseline"] is not None:
            assert (fig["scenario"], fig["baseline"]) in figures, key
            assert fig["ratio"] > 0, key
            assert math.isclose(
                fig["ratio"], fig["median"] / figures[fig["scenario"], fig["baseline"]]["median"]
            ), key
        if "target" in fig:
            assert isinstance(fig["target"]["met"], bool), key
            assert fig["target"]["text"], key


@pytest.mark.slow
def test_resume_figures_carry_their_targets_and_the_ack_cost(
    report: tuple[dict[str, Any], str, int],
) -> None:
    doc, _, _ = report
    figures = _figures(doc)
    back = figures["resume", "back -> delivered at host"]
    assert (back["unit"], back["target"]["text"]) == ("s", "< 1 s"), back
    resumable = figures["chat", "confide resumable p50"]
    assert resumable["target"]["text"] == "<= 1.5x", resumable
    assert resumable["baseline"] == "tcp+aead echo p50", resumable
    direct = figures["chat", "confide direct p50"]["median"]
    assert f"{resumable['median'] / direct:.2f}x confide direct p50" in resumable["note"]
    resume = figures["handshake", "confide resume->confirmed"]
    assert resume["baseline"] == "bare X25519 exchange", resume


def _table_rows(table: str) -> dict[tuple[str, str], str]:
    """The table's rows by (scenario, figure name): scenario lines, then indented rows."""
    rows: dict[tuple[str, str], str] = {}
    scenario = ""
    for line in table.splitlines():
        if line and not line.startswith(" "):
            scenario = line.strip()
        elif line.startswith("  "):
            name = line[:NAME_WIDTH].strip()
            rows[scenario, name] = line
    return rows


@pytest.mark.slow
def test_table_shows_every_figure_with_its_targets(
    report: tuple[dict[str, Any], str, int],
) -> None:
    doc, table, _ = report
    rows = _table_rows(table)
    for fig in doc["figures"]:
        line = rows.get((fig["scenario"], fig["name"]), "")
        assert line, f"{fig['name']!r} is not in the {fig['scenario']} table"
        if "unavailable" in fig:  # an optional peer that is not installed
            assert line.endswith(fig["unavailable"]), line
            continue
        assert f"n={fig['runs']}" in line, line
        if "target" in fig:
            assert f"target {fig['target']['text']}:" in line, line
        if fig["baseline"] is not None:
            assert f"x {fig['baseline']}" in line, line
    assert doc["config"]["mode"] == "tiny"
    assert doc["machine"]["cpus"] >= 1


@pytest.mark.slow
def test_each_scenario_is_shown_as_it_finishes(report: tuple[dict[str, Any], str, int]) -> None:
    doc, table, _ = report
    lines = table.splitlines()
    scenarios = list(dict.fromkeys(f["scenario"] for f in doc["figures"]))
    total = len(scenarios)
    for index, scenario in enumerate(scenarios, 1):
        progress = f"bench: {scenario} ({index}/{total})"
        started = lines.index(f"{progress} started")
        ended = next(i for i, line in enumerate(lines) if line.startswith(f"{progress} took "))
        rows = lines.index(scenario)
        assert started < ended < rows, (scenario, lines[started : rows + 1])
        if index < total:  # the next scenario starts only after these rows are out
            following = lines.index(f"bench: {scenarios[index]} ({index + 1}/{total}) started")
            assert rows < following, (scenario, scenarios[index])
    assert any(line.startswith("ran in ") for line in lines[rows:]), lines[-3:]


def test_files_figures_carry_their_baseline_targets_and_the_optional_peer(
    report: tuple[dict[str, Any], str, int],
) -> None:
    doc, table, _ = report
    figures = _figures(doc)
    floor = "tcp+aead stream, disk to disk"
    for variant in ("direct", "relay"):
        rate = figures["files", f"confide send/receive, {variant}"]
        assert (rate["unit"], rate["baseline"]) == ("MiB/s", floor), rate
        assert rate["target"] == {"text": ">= 0.6x", "on": "ratio", "met": rate["target"]["met"]}
        rss = figures["files", f"receiver peak RSS, {variant}"]
        assert (rss["unit"], rss["target"]["text"]) == ("MiB", "< 100 MiB"), rss
    assert figures["files", "confide in a chat session"]["baseline"] == floor
    p99 = figures["files", "chat p99 during transfer"]
    assert (p99["unit"], p99["target"]["text"]) == ("ms", "< 50 ms"), p99
    peers = [f for (scenario, name), f in figures.items() if name.startswith(OPTIONAL_PEER)]
    assert len(peers) == 1, peers
    peer = peers[0]
    assert peer["baseline"] == floor, peer
    assert "149 MB/s" in peer["note"], peer
    if "unavailable" in peer:  # not installed here: a clean row saying so, not a failure
        assert peer["optional"] is True, peer
        assert "not installed" in peer["unavailable"] or "mailbox" in peer["unavailable"], peer
        row = _table_rows(table)["files", peer["name"]]
        assert row.endswith(peer["unavailable"]), row
    else:
        assert peer["ratio"] > 0, peer


def test_an_optional_peer_that_is_not_installed_does_not_fail_the_run() -> None:
    missing = Figure("files", "magic-wormhole", "MiB/s", "higher", unavailable="not installed")
    assert not missing.fine
    missing.optional = True
    assert missing.fine
    assert not missing.ok  # still reported as not measured
    failed = Figure("files", "confide send/receive, direct", "MiB/s", "higher", unavailable="error")
    assert not failed.fine


def test_magic_wormhole_without_the_command_is_not_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    why = wormhole.unavailable()
    assert why is not None
    assert why.startswith("not installed")
