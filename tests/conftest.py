"""Shared fixtures: real ``confide`` processes and a recording proxy, always cleaned up.

``confide`` gives a ``proc.Launcher``; every process it started is killed
when the test ends, and the test errors if any of them printed a Python
traceback (confide must never show one). ``recording_proxy`` starts a
``RecordingProxy`` in front of a port and stops it afterwards.
``redis_server`` starts a real ``redis-server`` (``redis_server.py``) and
stops it afterwards.

Every test gets an empty ``XDG_DATA_HOME`` of its own (``_own_data_home``),
so no test reads or writes the identity key and contacts of the user who
runs the suite, and what a process started outside a ``Launcher`` writes
goes there too.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from proc import Launcher
from recording_proxy import RecordingProxy, Tamper
from redis_server import RedisServer


@pytest.fixture
def confide() -> Iterator[Launcher]:
    """Start ``confide`` processes; all are killed at the end, none may show a traceback."""
    launcher = Launcher()
    try:
        yield launcher
    finally:
        launcher.stop_all()
    shown = launcher.tracebacks()
    assert not shown, "a confide process printed a traceback:\n" + "\n".join(shown)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A running ``redis-server`` on a free loopback port, no persistence; stopped at the end."""
    server = RedisServer()
    try:
        yield server.start()
    finally:
        server.close()


ProxyFactory = Callable[..., RecordingProxy]


@pytest.fixture
def recording_proxy() -> Iterator[ProxyFactory]:
    """A factory ``(target_port, tamper=None) -> RecordingProxy`` (started; stopped at the end)."""
    started: list[RecordingProxy] = []

    def make(target_port: int, tamper: Tamper | None = None) -> RecordingProxy:
        proxy = RecordingProxy(target_port, tamper).start()
        started.append(proxy)
        return proxy

    try:
        yield make
    finally:
        for proxy in started:
            proxy.stop()


@pytest.fixture(autouse=True)
def _own_data_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty data folder (identity key, contacts) for this test and what it starts."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))


@pytest.fixture(autouse=True)
def _signals_left_as_found() -> Iterator[None]:
    """No test may change how this worker handles SIGINT: processes started later inherit it."""
    import signal

    before = signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, [])
    yield
    after = signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert after == before, "a test changed SIGINT's handler or mask"


@pytest.fixture
def closed_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
