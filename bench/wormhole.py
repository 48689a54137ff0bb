"""magic-wormhole as an optional peer of the files scenario, entirely on loopback.

magic-wormhole needs a mailbox server to meet and (on loopback) no transit
relay: its direct hints connect. The bench never uses the public servers, so
it runs magic-wormhole only when both are installed here: the ``wormhole``
command and the mailbox server (``magic-wormhole-mailbox-server``, run with
``twist wormhole-mailbox`` on 127.0.0.1). ``unavailable`` says why it cannot
run otherwise, and the scenario shows that reason in the row.

One transfer: ``wormhole send --code CODE FILE`` (a throwaway code of the
bench's, on loopback only), then ``wormhole receive --accept-file
--output-file D/NAME`` with the code on its stdin, as a user types it. The
transit helper is pointed at a closed loopback port, so only the direct
connection can carry the file. It is timed as ``bench.oneshot`` times
confide: from the first file in D to the receiver's exit, and its peak RSS.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import secrets
import shutil
import socket
import tempfile
import time
from pathlib import Path

from bench import cpus
from bench.oneshot import Outcome, Process, children_cpu, clean_env, received, tail, watch
from bench.peers import LOOPBACK

READY_TIMEOUT = 20.0
CLOSED_PORT = 9
"""The transit helper's port: discard, closed on loopback, so no relay carries data."""


def unavailable() -> str | None:
    """Why magic-wormhole cannot run here (None: it can)."""
    if shutil.which("wormhole") is None:
        return "not installed (optional: pip install magic-wormhole magic-wormhole-mailbox-server)"
    if shutil.which("twist") is None or importlib.util.find_spec("wormhole_mailbox_server") is None:
        return (
            "wormhole is installed, but no local mailbox server "
            "(magic-wormhole-mailbox-server): the bench does not use the public one"
        )
    return None


def version() -> str:
    """The installed magic-wormhole's version, if its package says."""
    with contextlib.suppress(Exception):
        from importlib.metadata import version as of

        return of("magic-wormhole")
    return "?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


class Mailbox:
    """A local mailbox server (``twist wormhole-mailbox``) on a loopback port."""

    def __init__(self, proc: Process, port: int, home: tempfile.TemporaryDirectory[str]) -> None:
        """Wrap a started server; use ``start``."""
        self.proc = proc
        self.port = port
        self.home = home
        self.url = f"ws://{LOOPBACK}:{port}/v1"

    @classmethod
    async def start(cls) -> Mailbox:
        """Start it in a scratch folder (its databases) and wait until it accepts."""
        home = tempfile.TemporaryDirectory(prefix="confide-bench-mailbox-")
        folder = Path(home.name)
        port = _free_port()
        argv = ["twist", "wormhole-mailbox", "--port", f"tcp:{port}:interface={LOOPBACK}"]
        proc = await Process.start(
            "wormhole mailbox", argv, clean_env(folder), folder / "mailbox.log", cwd=folder
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and proc.returncode is None:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(LOOPBACK, port)
                writer.close()
                return cls(proc, port, home)
            await asyncio.sleep(0.05)
        await proc.stop()
        home.cleanup()
        raise RuntimeError(f"the wormhole mailbox did not start: {tail(proc.log)}")

    async def stop(self) -> None:
        """Stop the server and remove its folder."""
        await self.proc.stop()
        self.home.cleanup()


async def one_transfer(mailbox: Mailbox, source: Path, folder: Path, timeout: float) -> Outcome:
    """``wormhole send source`` to ``wormhole receive`` into ``folder``, on loopback."""
    code = f"{secrets.randbelow(900) + 100}-confide-bench-{secrets.token_hex(4)}"
    common = ["--relay-url", mailbox.url, "--transit-helper", f"tcp:{LOOPBACK}:{CLOSED_PORT}"]
    with tempfile.TemporaryDirectory(prefix="confide-bench-") as scratch:
        logs = Path(scratch)
        procs: list[Process] = []
        cpu = children_cpu()
        try:
            sender = await Process.start(
                "wormhole send",
                ["wormhole", *common, "send", "--code", code, str(source)],
                clean_env(logs),
                logs / "send.log",
            )
            procs.append(sender)
            spawned = time.perf_counter()
            argv = ["wormhole", *common, "receive", "--accept-file", "--output-file"]
            receiver = await Process.start(
                "wormhole receive",
                [*argv, str(folder / source.name)],
                clean_env(logs),
                logs / "receive.log",
                stdin=(code + "\n").encode(),
            )
            procs.append(receiver)
            cpus.far(receiver.proc.pid)
            started, ended, peak = await watch(receiver, folder, timeout)
            await receiver.finish(5)
            await sender.finish(READY_TIMEOUT)
            cpu = children_cpu() - cpu
        finally:
            for proc in procs:
                await proc.stop()
    return Outcome(ended - started, ended - spawned, peak, cpu, received(folder))
