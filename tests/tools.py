"""The system tools the suite runs for real, and one plain line when one is missing.

``require("sshd", ...)`` looks each tool up on ``PATH`` (the same lookup the
code under test makes) and returns its path. If any is missing, the test
fails at once with one line that names them and the command that installs
them, never with a ``FileNotFoundError`` traceback and never by skipping::

    missing on PATH: sshd; install with: sudo apt-get install -y openssh-server
    (./scripts/test does it when run as root)

``PACKAGES`` maps each tool to its Debian package. ``scripts/test`` installs
the same list (its ``TOOLS=`` line; ``tests/test_setup.py`` checks that the
two agree) and stops with the same kind of line when it cannot.
"""

from __future__ import annotations

import shutil

import pytest

PACKAGES = {
    "tmux": "tmux",
    "sshd": "openssh-server",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "ip": "iproute2",
    "redis-server": "redis-server",
    "zsh": "zsh",
    "fish": "fish",
}
"""Tool -> the Debian/Ubuntu package that provides it."""


def install_hint(tools: list[str]) -> str:
    """``missing on PATH: A, B; install with: sudo apt-get install -y PKG...`` (one line)."""
    packages = sorted({PACKAGES[tool] for tool in tools})
    return (
        f"missing on PATH: {', '.join(tools)}; install with: "
        f"sudo apt-get install -y {' '.join(packages)} (./scripts/test does it when run as root)"
    )


def require(*tools: str) -> dict[str, str]:
    """The path of each of ``tools`` on PATH; fail the test with one line if any is missing."""
    found = {tool: shutil.which(tool) for tool in tools}
    missing = [tool for tool, path in found.items() if path is None]
    if missing:
        pytest.fail(install_hint(missing), pytrace=False)
    return {tool: path for tool, path in found.items() if path is not None}
