"""The protocol core stays pure: no asyncio, socket, textual, threading or subprocess.

Two independent checks: a fresh interpreter imports every module of
``confide.protocol`` and reports which forbidden modules ended up loaded, and
a static scan reads every ``import`` statement in the package's source.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import confide.protocol

FORBIDDEN = ("asyncio", "socket", "textual", "threading", "subprocess", "selectors", "ssl")
PACKAGE_DIR = Path(confide.protocol.__file__).parent
MODULES = sorted(
    f"confide.protocol.{info.name}" for info in pkgutil.iter_modules([str(PACKAGE_DIR)])
)

PROBE = """
import importlib, json, sys
before = set(sys.modules)
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps({"loaded": sorted(set(sys.modules) - before), "all": sorted(sys.modules)}))
"""


def test_the_package_has_the_modules_we_expect() -> None:
    names = {m.rsplit(".", 1)[1] for m in MODULES}
    assert {"codes", "connection", "framing", "handshake", "messages", "records"} <= names
    assert len(MODULES) >= 9


def test_importing_the_core_loads_no_io_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "confide.protocol", *MODULES],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(proc.stdout)
    loaded = set(report["all"])
    assert set(MODULES) <= loaded  # the probe really imported every module
    assert "cpace" in loaded  # and their dependencies, so the check below means something
    bad = sorted(
        name for name in loaded if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    )
    assert bad == [], f"confide.protocol pulled in {bad}"


def test_the_probe_would_notice_a_forbidden_import() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "confide.protocol", "asyncio"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "asyncio" in json.loads(proc.stdout)["loaded"]


def imported_modules(source: str) -> set[str]:
    """Every module named by an import statement, anywhere in ``source``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            names.add("__import__")
        elif isinstance(node, ast.Attribute) and node.attr == "import_module":
            names.add("importlib.import_module")
    return names


def test_no_source_file_imports_an_io_module() -> None:
    files = sorted(PACKAGE_DIR.glob("*.py"))
    assert len(files) == len(MODULES) + 1  # every module, plus __init__.py
    for path in files:
        names = imported_modules(path.read_text("utf-8"))
        roots = {n.split(".")[0] for n in names}
        assert not roots & set(FORBIDDEN), f"{path.name} imports {roots & set(FORBIDDEN)}"
        assert "__import__" not in names, f"{path.name} imports dynamically"
        assert "importlib.import_module" not in names, f"{path.name} imports dynamically"
        assert "os" not in roots, f"{path.name} imports os (randomness is passed in)"
        assert "random" not in roots, f"{path.name} imports random (randomness is passed in)"
        assert "secrets" not in roots, f"{path.name} imports secrets (randomness is passed in)"
        assert "time" not in roots, f"{path.name} imports time (clocks are passed in)"


def test_the_static_scan_would_notice_a_forbidden_import() -> None:
    sample = "import os\nfrom asyncio import sleep\ndef f():\n    import socket\n"
    assert imported_modules(sample) == {"os", "asyncio", "socket"}


PURE_APP_MODULES = (
    "confide.app.core",
    "confide.app.events",
    "confide.app.guesses",
    "confide.app.days",
    "confide.app.link_state",
)
APP_DIR = PACKAGE_DIR.parent / "app"


def test_the_pure_app_modules_load_no_io_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *PURE_APP_MODULES],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = set(json.loads(proc.stdout)["all"])
    assert set(PURE_APP_MODULES) <= loaded
    bad = sorted(
        name for name in loaded if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    )
    assert bad == [], f"the pure app modules pulled in {bad}"


@pytest.mark.parametrize("module", PURE_APP_MODULES)
def test_no_pure_app_source_imports_an_io_module(module: str) -> None:
    path = APP_DIR / f"{module.rsplit('.', 1)[1]}.py"
    names = imported_modules(path.read_text("utf-8"))
    roots = {n.split(".")[0] for n in names}
    assert not roots & set(FORBIDDEN), f"{path.name} imports {roots & set(FORBIDDEN)}"
    assert "__import__" not in names
    assert "importlib.import_module" not in names


SRC = PACKAGE_DIR.parent
NET_FORBIDDEN = ("argparse", "confide.config", "confide.cli", "confide.ui", "confide.relay")
"""What ``net/`` must not import: the CLI and config live above it, the relay server beside it."""


def imported_paths(source: str) -> set[str]:
    """Every module or name imported in ``source``, in full: ``from a import b`` gives ``a.b``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def forbidden_in_net(names: set[str]) -> list[str]:
    """The names in ``names`` that the net layer may not import (``confide.cli*`` included)."""
    return sorted(
        n
        for n in names
        for f in NET_FORBIDDEN
        if n == f or n.startswith(f + ".") or (f == "confide.cli" and n.startswith(f))
    )


def test_the_net_layer_reads_no_config_and_knows_no_cli_or_ui() -> None:
    files = sorted((SRC / "net").glob("*.py"))
    assert {p.stem for p in files} >= {"relay_client", "host", "tcp", "channel"}
    for path in files:
        bad = forbidden_in_net(imported_paths(path.read_text("utf-8")))
        assert bad == [], f"net/{path.name} imports {bad}"


def test_the_net_check_would_notice_a_cli_import() -> None:
    for sample in (
        "def f():\n    from confide import config\n",
        "import argparse\n",
        "from confide.cli_relay import from_args\n",
        "from confide.ui.texts import describe\n",
        "from confide.relay import routing\n",
    ):
        assert forbidden_in_net(imported_paths(sample)), sample
    assert forbidden_in_net(imported_paths("from confide import configure, wire\n")) == []


def test_relay_client_and_server_share_the_wire_package() -> None:
    client = imported_paths((SRC / "net" / "relay_client.py").read_text("utf-8"))
    server = imported_paths((SRC / "relay" / "server.py").read_text("utf-8"))
    assert "confide.wire.routing" in client
    assert "confide.wire.routing" in server
    assert not (SRC / "relay" / "routing.py").exists(), "a copy of the wire format in relay/"


LAYERS_ABOVE: dict[str, tuple[str, ...]] = {
    "protocol": ("confide.app", "confide.net", "confide.ui", "confide.cli", "confide.relay"),
    "net": ("confide.app", "confide.ui", "confide.cli", "confide.relay"),
    "app": ("confide.ui", "confide.cli", "confide.relay"),
    "wire": ("confide.app", "confide.net", "confide.ui", "confide.cli", "confide.relay"),
}
"""What each layer must not import: the layers are one-way, ui → app → net → protocol."""


def layer_violations(layer: str, names: set[str]) -> list[str]:
    """The imports in ``names`` that reach a layer above ``layer`` (``confide.cli*`` included)."""
    return sorted(n for n in names for f in LAYERS_ABOVE[layer] if n == f or n.startswith(f))


@pytest.mark.parametrize("layer", sorted(LAYERS_ABOVE))
def test_each_layer_imports_only_the_layers_below(layer: str) -> None:
    files = sorted((SRC / layer).glob("*.py"))
    assert files, layer
    for path in files:
        bad = layer_violations(layer, imported_paths(path.read_text("utf-8")))
        assert bad == [], f"{layer}/{path.name} imports {bad}"


def test_the_layer_check_would_notice_an_upward_import() -> None:
    assert layer_violations("app", imported_paths("from confide.ui.texts import describe\n"))
    assert layer_violations("app", imported_paths("def f():\n    import confide.cli_relay\n"))
    assert layer_violations("net", imported_paths("from confide.app import room\n"))
    assert layer_violations("protocol", imported_paths("from confide.net import tcp\n"))
    assert layer_violations("app", imported_paths("from confide.text import sanitize\n")) == []
