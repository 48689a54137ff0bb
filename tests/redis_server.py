"""A real ``redis-server`` for the cluster tests: a free loopback port, no persistence.

``RedisServer`` starts ``redis-server --port P --bind 127.0.0.1 --save ""
--appendonly no`` in a temporary folder and waits (polling ``PING`` on a
bare socket, bounded) until it answers. ``stop`` ends it with SIGTERM and
``start`` brings it back on the same port, empty, which is how a test
plays a Redis outage and its end; ``freeze`` and ``thaw`` (SIGSTOP,
SIGCONT) play a Redis that hangs. ``client()`` gives a synchronous
``redis.Redis`` on it, for a test that looks at what the nodes stored.

The ``redis_server`` fixture (in ``conftest.py``) starts one for a test
and stops it at the end, whatever happened.

Usage::

    def test_nodes(confide: Launcher, redis_server: RedisServer) -> None:
        a = start_relay(confide, "--redis", redis_server.url)
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

REDIS_SERVER = "redis-server"
START_TIMEOUT = 10.0
"""Seconds a test waits for a new redis-server to answer ``PING``."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process on ``127.0.0.1:port`` (stopped, started again, stopped)."""

    def __init__(self, port: int | None = None) -> None:
        """A server for ``port`` (a free one if None); ``start`` runs it."""
        binary = shutil.which(REDIS_SERVER)
        if binary is None:
            raise RuntimeError("redis-server is not installed (the Debian package redis-server)")
        self.binary = binary
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="confide-redis-"))
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``, for ``confide relay --redis``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Run the server (empty) and wait until it answers ``PING``."""
        assert self.popen is None, "already running"
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.popen = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.answers():
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"redis-server on port {self.port} exited: {self.popen.returncode}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not answer PING")
            time.sleep(0.01)
        return self

    def answers(self) -> bool:
        """Whether something on the port answers ``PING`` with ``PONG`` right now."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """End the server (SIGTERM, then SIGKILL if it lingers) and wait for it."""
        popen, self.popen = self.popen, None
        if popen is None:
            return
        popen.send_signal(signal.SIGCONT)  # a frozen server could not act on SIGTERM
        popen.terminate()
        try:
            popen.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()

    def freeze(self) -> None:
        """Stop the server in its tracks (SIGSTOP): connections stay open, nothing answers."""
        assert self.popen is not None, "not running"
        self.popen.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen server go on (SIGCONT)."""
        assert self.popen is not None, "not running"
        self.popen.send_signal(signal.SIGCONT)

    def client(self) -> redis.Redis:
        """A synchronous client on the server (decoded strings), to look at what it holds."""
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)

    def close(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.folder)
