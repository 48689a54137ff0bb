"""A real OpenSSH ``sshd`` on a free 127.0.0.1 port, for the SSH tunnel tests.

``SshServer.start(tmp)`` generates a host key and a client key with
``ssh-keygen``, writes an ``sshd_config`` (key-only root login,
``UsePAM no``, ``StrictModes no`` for the test's temporary directory,
``AddressFamily inet`` so remote forwards bind 127.0.0.1 only,
``GatewayPorts no`` so they stay on loopback) and runs
``sshd -D -e -f CONFIG`` (found on PATH, by its absolute path, as sshd
requires) as a child. A missing ``sshd``, ``ssh`` or ``ssh-keygen`` fails
the test with one line saying how to install it (``tools.require``). It waits, with a bound,
until the server sends its ``SSH-2.0`` banner. ``client_config`` writes an
``ssh_config`` for ``CONFIDE_SSH_CONFIG``: that key, a ``known_hosts`` with
this server's real host key (strict checking stays on), ``BatchMode``.

``stop`` kills the per-connection sshd processes first (they are not in the
listener's process group) and then the listener, so it also serves as "the
SSH server went away" for the drop test. sshd's own log is kept in
``sshd.log`` for failure messages.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tools import require

PRIVSEP_DIR = Path("/run/sshd")
START_TIMEOUT = 8.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path) -> str:
    """Make an unencrypted ed25519 key at ``path``; return the public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "confide-test", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=10,
    )
    return path.with_suffix(".pub").read_text().strip()


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (read from /proc), children first."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class SshServer:
    """One sshd child process and the keys that go with it."""

    dir: Path
    port: int
    host_key_pub: str
    client_key: Path
    proc: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, tmp: Path) -> SshServer:
        """Start sshd in ``tmp`` (an absolute directory) and wait for its banner."""
        tmp = tmp.resolve()
        sshd = require("sshd", "ssh-keygen", "ssh")["sshd"]  # ssh: what confide runs
        PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        host_pub = keygen(tmp / "host_ed25519")
        client_pub = keygen(tmp / "client_ed25519")
        (tmp / "authorized_keys").write_text(client_pub + "\n")
        log = tmp / "sshd.log"
        last = ""
        for _ in range(3):  # the free port may be taken in between: try another
            port = free_port()
            config = tmp / "sshd_config"
            config.write_text(_sshd_config(tmp, port))
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sshd, "-D", "-e", "-f", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                )
            server = cls(tmp, port, host_pub, tmp / "client_ed25519", proc, log)
            if server._wait_banner():
                return server
            server.stop()
            last = log.read_text(errors="replace")
        raise AssertionError(f"sshd did not start:\n{last}")

    def _wait_banner(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as s,
            ):
                if s.recv(64).startswith(b"SSH-2.0-"):
                    return True
            time.sleep(0.05)
        return False

    def client_config(self, key: Path | None = None, name: str = "ssh_config") -> Path:
        """An ssh_config for this server (with ``key``, else the authorized client key)."""
        known = self.dir / "known_hosts"
        known.write_text(f"[127.0.0.1]:{self.port} {self.host_key_pub}\n")
        path = self.dir / name
        path.write_text(
            "Host *\n"
            f"  IdentityFile {key or self.client_key}\n"
            "  IdentitiesOnly yes\n"
            "  IdentityAgent none\n"
            f"  UserKnownHostsFile {known}\n"
            "  GlobalKnownHostsFile /dev/null\n"
            "  StrictHostKeyChecking yes\n"
            "  UpdateHostKeys no\n"
            "  BatchMode yes\n"
            "  PasswordAuthentication no\n"
            "  KbdInteractiveAuthentication no\n"
            "  ConnectTimeout 5\n"
        )
        return path

    def target(self) -> str:
        """What ``confide host --tunnel`` is given: ``root@127.0.0.1:PORT``."""
        return f"root@127.0.0.1:{self.port}"

    def session_pids(self) -> list[int]:
        """The per-connection sshd processes (descendants of the listener)."""
        return descendants(self.proc.pid)

    def stop(self) -> None:
        """Kill the connections' sshd processes, then the listener; never raises."""
        for pid in reversed(self.session_pids()):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log_text(self) -> str:
        """What sshd logged (for assertion messages)."""
        return self.log.read_text(errors="replace")


def _sshd_config(tmp: Path, port: int) -> str:
    return (
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        "AddressFamily inet\n"
        f"HostKey {tmp / 'host_ed25519'}\n"
        f"PidFile {tmp / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {tmp / 'authorized_keys'}\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "PermitRootLogin prohibit-password\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "AllowTcpForwarding yes\n"
        "GatewayPorts no\n"
        "X11Forwarding no\n"
        "PrintMotd no\n"
        "LogLevel VERBOSE\n"
    )
