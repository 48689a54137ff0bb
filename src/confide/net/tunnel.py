"""SSH reverse tunnel: the system ``ssh`` publishes the host's port on another machine.

``confide host --tunnel [USER@]SSHHOST[:SSHPORT]`` listens on 127.0.0.1 and
runs::

    ssh -v -N -o ExitOnForwardFailure=yes -o ServerAliveInterval=15 ...
        -R '*:REMOTE_PORT:127.0.0.1:LOCAL_PORT' [USER@]SSHHOST

so the user's ``~/.ssh/config``, agent and keys all work, and ssh may still
ask for a password or passphrase on the terminal (``BatchMode=yes`` is added
only when there is no terminal to ask on). Connection sharing is turned off
(``ControlMaster=no``, ``ControlPath=none``): a forward made through a shared
master connection would stay open after confide and its ssh have gone.
``*`` asks the server to listen on all its interfaces; the server honours
that only with ``GatewayPorts yes`` or ``clientspecified``, and otherwise
listens on its own loopback.

Each forwarded connection shows up in ssh's ``-v`` output as ``channel N:
new`` and ``channel N: free``. On a normal exit ``close`` waits (briefly)
until no channel is open, so ssh carries our goodbye across before it is
stopped.

``-v`` is what lets us see, on ssh's stderr, when the forward is really up:
``Allocated port N for remote forward`` for port 0 (``--tunnel-port`` not
given), or ``remote forward success for: listen ...:N`` for a chosen port.
``serveo.net`` gets a session instead of ``-N`` (it prints
``Forwarding TCP connections from serveo.net:PORT`` there, which names the
public address). Other hosts are named by ``ssh -G`` (the ``hostname`` after
``~/.ssh/config`` is applied), so an alias prints the real address.

Every failure is one line and exit 4 (``TunnelError``): ssh missing,
authentication refused, host key not trusted, the forward refused, or the
tunnel dropping later. ssh starts with SIGINT ignored (Ctrl-C is ours to
handle; ssh honours an inherited "ignore"), and ``close`` stops it on every
exit path: terminate, wait a bounded time, kill. A SIGTERM or SIGHUP to
confide stops ssh at once and then leaves the chat as Ctrl-C would.

ssh (and ``ssh -G``) gets our environment without ``CONFIDE_CODE`` and
``CONFIDE_PASSWORD`` (``secrets_input.child_environment``): a secret never
reaches a child process.

``CONFIDE_SSH`` names another ssh binary and ``CONFIDE_SSH_CONFIG`` an
ssh_config file passed with ``-F`` (the tests use both). The command line and
the reading of ssh's output live in ``confide.net.sshcmd``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from confide.errors import EXIT_CONNECT, ClosedError
from confide.net.sshcmd import (
    Target,
    channel_event,
    clean,
    explain_drop,
    explain_failure,
    parse_allocated_port,
    parse_forward_success,
    parse_serveo,
    parse_target,
    ssh_command,
)
from confide.secrets_input import child_environment

SSH_ENV = "CONFIDE_SSH"
SSH_CONFIG_ENV = "CONFIDE_SSH_CONFIG"
OPEN_TIMEOUT = 30.0
"""Seconds for the forward to come up when nobody can type a password."""
PROMPT_TIMEOUT = 180.0
"""Seconds for the forward to come up when ssh may be asking for a password."""
STOP_TIMEOUT = 2.0
DROP_GRACE = 2.0
"""After a chat broke, how long to wait to see whether ssh is exiting too."""
LINGER = 1.5
"""On a normal exit, how long ssh may finish carrying the last bytes (our goodbye)."""
KEEP_LINES = 60

Status = Callable[[str], None]
T = TypeVar("T")


class TunnelError(ClosedError):
    """The SSH tunnel could not be set up, or it dropped (exit 4)."""


def _restore_sigint(previous: object) -> None:
    """Put back the SIGINT handler that ``_spawn`` replaced (Python's own if unknown)."""
    if previous is None:  # installed from C: the best stand-in is Python's default
        previous = signal.default_int_handler
    signal.signal(signal.SIGINT, previous)  # type: ignore[arg-type]


def _has_terminal() -> bool:
    from confide.secrets_input import has_terminal

    return has_terminal()


class Tunnel:
    """One ``ssh -R`` child process, from start to a guaranteed stop."""

    def __init__(self, target: Target, local_port: int, remote_port: int, status: Status) -> None:
        """Prepare a tunnel to 127.0.0.1:``local_port``; ``open`` starts ssh."""
        self.target = target
        self.local_port = local_port
        self.remote_port = remote_port
        self.status = status
        self.ssh = os.environ.get(SSH_ENV) or "ssh"
        self.config = os.environ.get(SSH_CONFIG_ENV) or None
        self.public: tuple[str, int] | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: deque[str] = deque(maxlen=KEEP_LINES)
        self._ready = asyncio.Event()
        self._exited = asyncio.Event()
        self._channels: set[str] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._signals: list[int] = []

    async def open(self) -> tuple[str, int]:
        """Start ssh and wait until the forward is up; the public ``(host, port)``."""
        if shutil.which(self.ssh) is None:
            raise TunnelError(f"ssh not found ({self.ssh}): install OpenSSH, or use --relay")
        prompt = _has_terminal()
        host = self.target.host if self.target.serveo else await self._hostname()
        argv = ssh_command(
            self.ssh,
            self.target,
            self.local_port,
            self.remote_port,
            config=self.config,
            batch=not prompt,
        )
        self.status(f"tunnel: connecting to {self.target} with ssh")
        self.proc = await self._spawn(argv)
        self._catch_termination()
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._tasks = [
            asyncio.create_task(self._read(self.proc.stdout)),
            asyncio.create_task(self._read(self.proc.stderr)),
        ]
        self._tasks.append(asyncio.create_task(self._watch(self._tasks[:2])))
        ready = asyncio.create_task(self._ready.wait())
        exited = asyncio.create_task(self._exited.wait())
        try:
            await asyncio.wait(
                {ready, exited},
                timeout=PROMPT_TIMEOUT if prompt else OPEN_TIMEOUT,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            ready.cancel()
            exited.cancel()
        if self._ready.is_set() and self.public is not None:
            public_host = self.public[0] if self.target.serveo else host
            self.public = (public_host, self.public[1])
            return self.public
        if self._exited.is_set():
            raise TunnelError(explain_failure(self.lines, self.proc.returncode, self.target))
        raise TunnelError(f"the SSH tunnel through {self.target} did not come up in time")

    async def _hostname(self) -> str:
        """The host name ssh will really connect to (``ssh -G`` applies the config)."""
        argv = [self.ssh, "-G", *(["-F", self.config] if self.config else [])]
        argv.append(self.target.destination)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=child_environment(),
            )
            out, _ = await asyncio.wait_for(proc.communicate(), STOP_TIMEOUT * 2)
        except (OSError, TimeoutError):
            return self.target.host
        for line in out.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(" ")
            if key == "hostname" and value.strip():
                return value.strip()
        return self.target.host

    async def _spawn(self, argv: list[str]) -> asyncio.subprocess.Process:
        """Start ssh with SIGINT ignored, so Ctrl-C reaches only us."""
        previous: object = None
        if os.name == "posix":
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.PIPE if self.target.serveo else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=child_environment(),
            )
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise TunnelError(f"cannot run ssh ({self.ssh}): {why}") from None
        finally:
            if os.name == "posix":
                _restore_sigint(previous)

    def _catch_termination(self) -> None:
        loop = asyncio.get_running_loop()
        for name in ("SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._terminated)
                self._signals.append(signum)

    def _terminated(self) -> None:
        """SIGTERM/SIGHUP: stop ssh now, then leave as on Ctrl-C."""
        self._closing = True
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
        os.kill(os.getpid(), signal.SIGINT)

    async def _read(self, stream: asyncio.StreamReader) -> None:
        pending = b""
        while True:
            chunk = await stream.read(4096)
            if not chunk:
                break
            *done, pending = (pending + chunk).split(b"\n")
            for raw in done:
                self._line(raw.decode("utf-8", "replace"))
            pending = pending[-4096:]
        if pending:
            self._line(pending.decode("utf-8", "replace"))

    def _line(self, text: str) -> None:
        line = clean(text)
        if not line:
            return
        self.lines.append(line)
        if self._ready.is_set():
            self._count_channels(line)
            return
        if self.target.serveo:
            found = parse_serveo(line)
            if found:
                self.public = found
                self._ready.set()
            return
        port = parse_allocated_port(line) if not self.remote_port else None
        if self.remote_port and parse_forward_success(line) == self.remote_port:
            port = self.remote_port
        if port:
            self.public = (self.target.host, port)
            self._ready.set()

    def _count_channels(self, line: str) -> None:
        """Follow ssh's forwarded channels (``-v``), to know when it has delivered everything."""
        event = channel_event(line)
        if event is None:
            return
        number, what = event
        if what == "new":
            self._channels.add(number)
            self._idle.clear()
        else:
            self._channels.discard(number)
            if not self._channels:
                self._idle.set()

    async def _watch(self, readers: list[asyncio.Task[None]]) -> None:
        assert self.proc is not None
        await self.proc.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*readers), DROP_GRACE)
        self._exited.set()

    @property
    def dropped(self) -> bool:
        """Whether ssh went away on its own after the forward was up."""
        return self._exited.is_set() and not self._closing

    def drop_message(self) -> str:
        """The one line explaining the drop."""
        returncode = self.proc.returncode if self.proc else None
        return explain_drop(self.lines, returncode, self.target)

    async def guard(self, work: Awaitable[T]) -> T:
        """Await ``work``; if ssh exits first, cancel it and raise ``TunnelError``."""
        task = asyncio.ensure_future(work)
        exited = asyncio.create_task(self._exited.wait())
        try:
            await asyncio.wait({task, exited}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            raise TunnelError(self.drop_message())
        finally:
            exited.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def after_chat(self, code: int) -> int:
        """The chat ended with ``code``: if the tunnel broke it, say so (exit 4)."""
        if code != EXIT_CONNECT or self._closing:
            return code
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._exited.wait(), DROP_GRACE)
        if self.dropped:
            self.status(self.drop_message())
        return code

    async def close(self) -> None:
        """Stop ssh (terminate, then kill) and reap it; never raises."""
        self._closing = True
        loop = asyncio.get_running_loop()
        for signum in self._signals:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
        self._signals = []
        proc = self.proc
        if proc is not None and proc.returncode is None and not self._idle.is_set():
            # a connection is still open in the tunnel: let ssh carry our last
            # bytes (the goodbye) across before it is stopped
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), LINGER)
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        if proc is not None and proc.stdin is not None:
            proc.stdin.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task


@contextlib.asynccontextmanager
async def opened(
    target: str, local_port: int, remote_port: int, status: Status
) -> AsyncIterator[Tunnel]:
    """Open a tunnel to 127.0.0.1:``local_port``, print where joiners go, and always close it."""
    tunnel = Tunnel(parse_target(target), local_port, remote_port, status)
    try:
        host, port = await tunnel.open()
        shown = f"[{host}]" if ":" in host else host
        status(f"tunnel: joiners use --at {shown}:{port}")
        yield tunnel
    finally:
        await tunnel.close()


__all__ = ["Tunnel", "TunnelError", "opened", "parse_target"]  # the CLI checks --tunnel early
