"""Network namespaces for the LAN discovery tests: two "machines" and a cable.

``Lan.create()`` makes two namespaces with unique names (tests run in
parallel under pytest-xdist) joined by a veth pair, gives each end an
address of the private test subnet 10.77.0.0/24 *inside its namespace only*
(nothing changes in the test machine's own network), brings the links and
loopback up, and routes multicast (224.0.0.0/4) onto the veth so mDNS has
a way out. ``Lan.lonely()`` makes one namespace with only loopback, for a
host that has nowhere to advertise. ``destroy`` deletes the namespaces,
which also removes the veth pair.

``run_in(launcher, ns, *args)`` starts ``confide ARGS`` inside a namespace
through ``ip netns exec`` with the shared ``proc.Launcher``, so the process
is tracked and killed like any other. If a namespace can't be created, the
``ip`` command's error fails the test: these tests never skip. Without
``ip`` on PATH the test fails with one line saying how to install it.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field

import proc
from proc import Launcher, Proc
from tools import require

SUBNET_PREFIX = "10.77.0."


def ip(*args: str) -> str:
    """Run ``ip ARGS``; fail with its error output if it fails."""
    require("ip")
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=15, check=False)
    assert done.returncode == 0, f"ip {' '.join(args)} failed: {done.stderr.strip()}"
    return done.stdout


@dataclass
class Lan:
    """Namespaces made for one test, and the 10.77.0.x address of each (if it has one)."""

    names: list[str] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls) -> Lan:
        """Two namespaces, A (10.77.0.1) and B (10.77.0.2), joined by a veth pair."""
        lan = cls()
        tag = secrets.token_hex(3)
        try:
            a, b = lan._namespace(f"cfa-{tag}"), lan._namespace(f"cfb-{tag}")
            ends = (f"cfa{tag}", f"cfb{tag}")  # interface names are at most 15 characters
            ip("link", "add", ends[0], "netns", a, "type", "veth", "peer", ends[1], "netns", b)
            for ns, dev, last in ((a, ends[0], 1), (b, ends[1], 2)):
                address = f"{SUBNET_PREFIX}{last}"
                ip("-n", ns, "addr", "add", f"{address}/24", "dev", dev)
                ip("-n", ns, "link", "set", dev, "up")
                ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", dev)
                lan.addresses[ns] = address
        except BaseException:
            lan.destroy()
            raise
        return lan

    @classmethod
    def lonely(cls) -> Lan:
        """One namespace with nothing but loopback."""
        lan = cls()
        try:
            lan._namespace(f"cfl-{secrets.token_hex(3)}")
        except BaseException:
            lan.destroy()
            raise
        return lan

    def _namespace(self, name: str) -> str:
        ip("netns", "add", name)
        self.names.append(name)
        ip("-n", name, "link", "set", "lo", "up")
        return name

    @property
    def a(self) -> str:
        """The first namespace (the host's machine)."""
        return self.names[0]

    @property
    def b(self) -> str:
        """The second namespace (the joiner's machine)."""
        return self.names[1]

    def destroy(self) -> None:
        """Delete every namespace made (and with them the veth pair); never raises."""
        for name in reversed(self.names):
            with contextlib.suppress(AssertionError, subprocess.SubprocessError):
                ip("netns", "del", name)
        self.names.clear()


def run_in(
    launcher: Launcher,
    ns: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    label: str = "",
) -> Proc:
    """Start ``confide ARGS`` inside namespace ``ns``, tracked by ``launcher``."""
    original = proc.confide_command
    proc.confide_command = lambda: ["ip", "netns", "exec", ns, *original()]
    try:
        return launcher.run(*args, env=env, label=label or f"{args[0]}@{ns}")
    finally:
        proc.confide_command = original
