"""The relay process: listen, answer signals, and (with ``--redis``) join the cluster.

``serve`` binds the listening sockets, prints ``relay listening on
HOST:PORT`` for each, and runs the ``Relay`` until SIGTERM or SIGINT. A
node of a cluster (``ClusterOptions``) then connects to its directory
(``cluster.start``) under the address clients reach it at (``--advertise``,
else the one specific address it is bound to) and names itself in every
log line. SIGUSR1 logs one ``status`` line: rooms, connections and, for a
node, Redis's health.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable

from confide.errors import ClosedError, UsageError
from confide.relay.cluster import ClusterOptions, default_advertise, shown_url
from confide.relay.limits import Limits
from confide.relay.log import EventLog
from confide.relay.server import BACKLOG, Relay


async def serve(
    limits: Limits,
    bind: str,
    port: int,
    log: EventLog | None = None,
    cluster: ClusterOptions | None = None,
) -> int:
    """Run a relay on ``bind:port`` until SIGTERM or SIGINT; return the exit code."""
    loop = asyncio.get_running_loop()
    log = log or EventLog()
    relay = Relay(limits, log)
    _raise_file_limit(limits.max_connections + 64)
    try:
        hosts = [h.strip() for h in bind.split(",") if h.strip()] or None
        server = await loop.create_server(
            relay.protocol, hosts, port, reuse_address=True, backlog=BACKLOG, start_serving=False
        )
    except OSError as exc:
        raise ClosedError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from None
    relay.server = server
    if cluster is not None:  # before the first client: every request goes through it
        await _join_cluster(relay, cluster, bind, server.sockets[0].getsockname()[1])
    handlers = {signal.SIGTERM: relay.shutdown, signal.SIGINT: relay.shutdown}
    if hasattr(signal, "SIGUSR1"):
        handlers[signal.SIGUSR1] = relay.status
    signals = [s for s, act in handlers.items() if _on_signal(loop, s, act)]
    await server.start_serving()
    for sock in server.sockets:  # the signals are ours by the time anyone reads this
        name = sock.getsockname()
        host = f"[{name[0]}]" if ":" in name[0] else name[0]
        print(f"relay listening on {host}:{name[1]}", file=sys.stderr, flush=True)
    try:
        await relay.run()
    finally:
        server.close()
        for sig in signals:
            loop.remove_signal_handler(sig)
        if relay.cluster is not None:
            await relay.cluster.close()
    log.flush()
    log.event("stopped")
    return 0


async def _join_cluster(relay: Relay, options: ClusterOptions, bind: str, port: int) -> None:
    from confide.relay import cluster

    advertise = options.advertise or default_advertise(bind, port)
    if advertise is None:
        raise UsageError("with --redis and a wildcard --bind, --advertise HOST:PORT is required")
    node = options.node or advertise
    relay.log.node = node
    print(
        f"relay node {node} at {advertise}, directory {shown_url(options.redis_url)}",
        file=sys.stderr,
        flush=True,
    )
    await cluster.start(relay, options, advertise, node)


def _on_signal(
    loop: asyncio.AbstractEventLoop, sig: signal.Signals, act: Callable[[], None]
) -> bool:
    try:
        loop.add_signal_handler(sig, act)
    except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C raises instead
        return False
    return True


def _raise_file_limit(wanted: int) -> None:
    """Allow enough open files for ``wanted`` sockets, where the OS lets us."""
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
