"""The pure half of the SSH tunnel: ssh's command line, and reading what ssh says.

Nothing here runs a process. ``ssh_command`` builds the argv (see
``confide.net.tunnel`` for why each option is there); the ``parse_*``
functions read the lines that matter on ssh's ``-v`` stderr and serveo's
banner; ``explain_failure`` and ``explain_drop`` turn ssh's last words into
the one line the user sees. All of it is unit-tested with sample output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from confide.errors import UsageError
from confide.net.tcp import parse_address

SERVER_ALIVE_INTERVAL = 15
SERVER_ALIVE_COUNT = 3
CONNECT_TIMEOUT = 15

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ALLOCATED = re.compile(r"Allocated port (\d+) for remote forward to")
_SUCCESS = re.compile(r"remote forward success for: listen (?:\S*:)?(\d+), connect")
_REFUSED = re.compile(r"remote port forwarding failed for listen port (\d+)")
_CHANNEL = re.compile(r"channel (\d+): (new|free)\b")
_SERVEO = re.compile(r"Forwarding TCP connections from ([A-Za-z0-9.\-]+):(\d+)")
_UNREACHABLE = (
    "Could not resolve hostname",
    "Connection refused",
    "Connection timed out",
    "No route to host",
    "Network is unreachable",
    "Connection closed by",
    "Connection reset by",
    "kex_exchange_identification",
)
_NOISE = (
    "debug",
    "OpenSSH_",
    "Authenticated to",
    "Allocated port",
    "Transferred:",
    "Bytes per second",
    "Warning: Permanently added",
    "Pseudo-terminal",
    "Forwarding TCP",
)


@dataclass(frozen=True, slots=True)
class Target:
    """Where to tunnel through: ``[USER@]HOST[:PORT]``."""

    host: str
    user: str = ""
    port: int = 0

    @property
    def destination(self) -> str:
        """What ssh is given as its destination argument."""
        return f"{self.user}@{self.host}" if self.user else self.host

    @property
    def serveo(self) -> bool:
        """Whether this is serveo.net, which announces the public port in a session."""
        return self.host.lower().rstrip(".") in ("serveo.net", "www.serveo.net")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        where = f"{host}:{self.port}" if self.port else self.host
        return f"{self.user}@{where}" if self.user else where


def parse_target(text: str) -> Target:
    """Parse ``[USER@]SSHHOST[:SSHPORT]``; ``UsageError`` if malformed."""
    user, _, rest = text.strip().rpartition("@")
    host, port = parse_address(rest, default_port=0)
    for part, what in ((user, "user"), (host, "host")):
        if part.startswith("-") or any(c.isspace() for c in part):
            raise UsageError(f"bad --tunnel {what} {part!r}")
    if "@" in text and not user:
        raise UsageError(f"bad --tunnel {text!r}: empty user")
    return Target(host, user, port)


def ssh_command(
    ssh: str,
    target: Target,
    local_port: int,
    remote_port: int = 0,
    *,
    config: str | None = None,
    batch: bool = False,
) -> list[str]:
    """The ssh argv that forwards ``remote_port`` on ``target`` to 127.0.0.1:``local_port``."""
    argv = [ssh, "-v", "-T" if target.serveo else "-N"]
    for option in (
        "ExitOnForwardFailure=yes",
        "ControlMaster=no",  # a connection of our own: a shared master would outlive us
        "ControlPath=none",
        f"ServerAliveInterval={SERVER_ALIVE_INTERVAL}",
        f"ServerAliveCountMax={SERVER_ALIVE_COUNT}",
        f"ConnectTimeout={CONNECT_TIMEOUT}",
        *(["BatchMode=yes"] if batch else []),
    ):
        argv += ["-o", option]
    if config:
        argv += ["-F", config]
    if target.port:
        argv += ["-p", str(target.port)]
    bind = "" if target.serveo else "*:"
    argv += ["-R", f"{bind}{remote_port}:127.0.0.1:{local_port}", target.destination]
    return argv


def clean(line: str) -> str:
    """One line of ssh output without colour codes or surrounding space."""
    return _ANSI.sub("", line).strip()


def parse_allocated_port(line: str) -> int | None:
    """The port in ssh's ``Allocated port N for remote forward to ...``, else None."""
    found = _ALLOCATED.search(line)
    return int(found.group(1)) if found else None


def parse_forward_success(line: str) -> int | None:
    """The port in ssh's ``remote forward success for: listen [ADDR:]N, ...``, else None."""
    found = _SUCCESS.search(line)
    return int(found.group(1)) if found else None


def parse_serveo(line: str) -> tuple[str, int] | None:
    """``(host, port)`` from serveo's ``Forwarding TCP connections from HOST:PORT``."""
    found = _SERVEO.search(clean(line))
    return (found.group(1), int(found.group(2))) if found else None


def _meaningful(lines: Iterable[str]) -> list[str]:
    said = [line.removeprefix("ssh: ") for line in lines]
    return [line for line in said if line and not line.startswith(_NOISE)]


def _ended(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return f"ssh was killed (signal {-returncode})"
    return f"ssh exited with status {returncode}"


def explain_failure(lines: Iterable[str], returncode: int | None, target: Target) -> str:
    """One line saying why ssh gave up before the forward was up."""
    said = _meaningful(lines)
    for line in reversed(said):
        refused = _REFUSED.search(line)
        if refused:
            return (
                f"the SSH server {target} refused to open port {refused.group(1)} for the "
                "tunnel (in use there, or forwarding is not allowed: see its "
                "AllowTcpForwarding, GatewayPorts and PermitListen)"
            )
    for line in reversed(said):
        if "Permission denied" in line or "Too many authentication failures" in line:
            return f"SSH authentication to {target} failed ({line}): check your key or agent"
        if "Host key verification failed" in line:
            port = f"-p {target.port} " if target.port else ""
            return (
                f"the SSH host key of {target.host} is not trusted: "
                f"run 'ssh {port}{target.destination}' once to check and accept it"
            )
        if line.startswith(_UNREACHABLE) or any(u in line for u in _UNREACHABLE):
            return f"cannot reach the SSH server {target}: {line}"
    if said:
        return f"ssh to {target} failed: {said[-1]}"
    return f"ssh to {target} failed: {_ended(returncode)}"


def explain_drop(lines: Iterable[str], returncode: int | None, target: Target) -> str:
    """One line saying that (and why) an established tunnel went away."""
    said = _meaningful(lines)
    reason = said[-1] if said else _ended(returncode)
    return f"the SSH tunnel to {target} dropped: {reason}"


def channel_event(line: str) -> tuple[str, str] | None:
    """``(number, "new" or "free")`` from ssh's ``-v`` channel lines, else None."""
    found = _CHANNEL.search(line)
    return (found.group(1), found.group(2)) if found else None
