"""A relay node among several sharing a Redis directory (``confide relay --redis``).

Without ``--redis`` none of this runs: the relay decides everything in
memory (``server``). With it, ``Relay._request`` hands ``OPEN``, ``JOIN``,
``MEET`` and ``REATTACH`` to ``Cluster.route``, which parks the connection
(it is not read meanwhile) and starts one task for it. The task asks the
``directory`` one question (one Lua script, one round trip, bounded by
``--redis-timeout``) and then, back in the relay's own synchronous steps:

- ``OPEN``: reserves the first free nameplate of the usual candidates in
  Redis (so it is unique across nodes) and opens the room here.
- ``JOIN``: a room of this node spends the join budgets in Redis and is
  announced to its host here (while one JOIN of an address spends, another
  of the same address in the same room is refused ``already-waiting``, as
  one relay in memory does, and spends nothing); a room of another node gets ``REDIRECT`` to
  that node (version 2) or ``CLOSE(elsewhere)`` (version 1); no room
  anywhere spends the unknown-room budget, in Redis.
- ``REATTACH``: the same, by the room token (hashed in Redis).
- ``MEET``: the first end claims the rendezvous for this node; a second
  end that reached another node is sent here.

If Redis fails or is slow, the request is refused with
``CLOSE(directory-unavailable)`` (retry after 2 s); rooms and splices
already running are node-local and carry on. A heartbeat task refreshes
this node's rooms in Redis every third of ``--directory-ttl``, and sets
them again if Redis lost them (a restart), so the node recovers by itself;
a node that dies stops refreshing and its rooms expire. Ending a room or a
rendezvous deletes its keys (in a task, bounded too).

``ClusterOptions`` are the flags; ``options_from`` checks them (usage
errors). ``redis`` is imported only when a node starts a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import secrets
import struct
from collections.abc import Container, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from confide.errors import UsageError
from confide.relay.limits import source_key
from confide.wire import routing
from confide.wire.routing import Reason

if TYPE_CHECKING:
    from confide.relay.conn import Conn
    from confide.relay.directory import Directory, DirectoryUnavailable
    from confide.relay.log import Value
    from confide.relay.server import Relay

ENV_REDIS = "CONFIDE_RELAY_REDIS"
RETRY_AFTER = 2
"""Seconds a client refused ``directory-unavailable`` is told to wait."""
NAME_SHOWN = 4
DIGITS = range(3, 8)
"""The lengths of the nameplates an ``OPEN`` tries, shortest first (as in memory)."""
_CEILINGS = [10**digits - 1 for digits in DIGITS for _ in range(16)]
_DRAWS = struct.Struct(f">{len(_CEILINGS)}Q")
MAX_NODE_NAME = 64
URL_SCHEMES = ("redis://", "rediss://", "unix://")
SETTLE = 2.0
"""Seconds a stopping node gives its last Redis calls (deleting its rooms)."""


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """How a relay node joins its cluster."""

    redis_url: str
    """Where the shared directory is: ``redis://HOST:PORT/DB`` (or ``rediss://``, ``unix://``)."""
    advertise: str = ""
    """``HOST:PORT`` clients reach this node at; empty: the bound address and port."""
    node: str = ""
    """This node's name in logs and in Redis; empty: the advertised address."""
    directory_ttl: float = 15.0
    """Seconds a room of this node stays in the directory without a heartbeat."""
    redis_timeout: float = 0.5
    """Seconds any one Redis call may take before the request is refused."""


def options_from(
    environ: Mapping[str, str],
    *,
    redis: str | None,
    advertise: str | None,
    node: str | None,
    directory_ttl: float,
    redis_timeout: float,
    bind: str,
) -> ClusterOptions | None:
    """The cluster flags as options, None without ``--redis``; ``UsageError`` if they are wrong."""
    url = redis or environ.get(ENV_REDIS, "")
    if not url:
        if advertise or node:
            raise UsageError("--advertise and --node are for a node of a cluster (with --redis)")
        return None
    if not url.startswith(URL_SCHEMES):
        raise UsageError("--redis takes a URL: redis://HOST:PORT/DB (or rediss://, unix://)")
    for flag, value in (("--directory-ttl", directory_ttl), ("--redis-timeout", redis_timeout)):
        if not math.isfinite(value) or value <= 0:
            raise UsageError(f"{flag} must be above 0")
    if advertise:
        try:
            routing.check_address(advertise)
        except ValueError as exc:
            raise UsageError(f"--advertise {advertise}: {exc}") from None
    elif default_advertise(bind, 1) is None:
        raise UsageError(
            "with --redis and a wildcard --bind, --advertise HOST:PORT is required "
            "(the address clients reach this node at)"
        )
    if node is not None and not _good_name(node):
        raise UsageError(f"--node is 1 to {MAX_NODE_NAME} printable characters, no spaces or '='")
    return ClusterOptions(url, advertise or "", node or "", directory_ttl, redis_timeout)


def _good_name(name: str) -> bool:
    return 0 < len(name) <= MAX_NODE_NAME and name.isprintable() and not {" ", "="} & set(name)


def default_advertise(bind: str, port: int) -> str | None:
    """``HOST:PORT`` of the one specific address in ``bind``; None for a wildcard (or several)."""
    hosts = [h.strip() for h in bind.split(",") if h.strip()]
    if len(hosts) != 1:
        return None
    host = hosts[0]
    try:
        if ipaddress.ip_address(host).is_unspecified:
            return None
    except ValueError:
        pass  # a host name: clients reach it by that name
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def shown_url(url: str) -> str:
    """``url`` without its user and password, for the log."""
    scheme, sep, rest = url.partition("://")
    return scheme + sep + rest.rpartition("@")[2]


class Cluster:
    """A relay's link to the shared directory: parked requests, heartbeat, releases."""

    def __init__(self, relay: Relay, directory: Directory, node: str, ttl: float) -> None:
        """The cluster side of ``relay`` as node ``node``; ``start`` begins the heartbeat."""
        self.relay = relay
        self.directory = directory
        self.node = node
        self.interval = ttl / 3
        self.healthy = True
        """Whether the last Redis call worked (the status line's ``redis=ok``)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._joining: set[tuple[str, str]] = set()
        """(nameplate, address) of the JOINs of this node's rooms now spending in Redis."""
        self._heartbeat: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin the heartbeat (its first beat checks Redis and says so in the log)."""
        self._heartbeat = asyncio.get_running_loop().create_task(self._beat())

    async def close(self) -> None:
        """Stop the heartbeat, let the last releases finish (bounded), close the client."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=SETTLE)
        for task in self._tasks:
            task.cancel()
        await self.directory.close()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _down(self, why: DirectoryUnavailable) -> None:
        if self.healthy:
            self.healthy = False
            self.relay.log.event("directory", state="down", why=why.cause)

    def _up(self) -> None:
        if not self.healthy:
            self.healthy = True
            self.relay.log.event("directory", state="ok")

    # -- requests ------------------------------------------------------------

    def route(self, c: Conn, req: routing.Request) -> None:
        """Park ``c`` and decide its request with the directory, in a task of its own."""
        self.relay.park(c)
        self._spawn(self._route(c, req))

    async def _route(self, c: Conn, req: routing.Request) -> None:
        from confide.relay.directory import DirectoryUnavailable

        try:
            if req.kind == routing.OPEN:
                await self._open(c, req.members)
            elif req.kind == routing.JOIN:
                await self._join(c, req)
            elif req.kind == routing.MEET:
                await self._meet(c, req)
            else:
                await self._reattach(c, req)
        except DirectoryUnavailable as exc:
            self._down(exc)
            if self.relay.unpark(c):
                self.relay.refuse(c, Reason.DIRECTORY_UNAVAILABLE, RETRY_AFTER, **_what(req))
            return
        except BaseException:  # a bug, or the node stopping: never leave the client parked
            if self.relay.unpark(c):
                self.relay.refuse(c, Reason.DIRECTORY_UNAVAILABLE, RETRY_AFTER, **_what(req))
            raise
        self._up()
        self.relay.after_request(c)

    async def _open(self, c: Conn, members: int) -> None:
        relay = self.relay
        token = secrets.token_bytes(routing.TOKEN_SIZE)
        nameplate = None
        if len(relay.rooms) < relay.limits.max_rooms:
            nameplate = await self.directory.reserve(candidates(relay.rooms), token)
        if not relay.unpark(c) or nameplate is None or nameplate in relay.rooms:
            if nameplate is not None:
                self.room_ended(nameplate, token)
            relay.refuse(c, Reason.RELAY_FULL)
            return
        if len(relay.rooms) >= relay.limits.max_rooms:
            self.room_ended(nameplate, token)
            relay.refuse(c, Reason.RELAY_FULL)
            return
        relay.open_room(c, nameplate, members, token)

    async def _join(self, c: Conn, req: routing.Request) -> None:
        from confide.relay import directory as d

        relay, nameplate, source = self.relay, req.nameplate, source_key(c.ip)
        room = relay.rooms.get(nameplate)
        refusal = relay.join_refusal(c, room) if room is not None else None
        if room is not None and refusal is None and (nameplate, source) in self._joining:
            refusal = Reason.ALREADY_WAITING, 0  # as if waiting: a refused JOIN spends nothing
        mine = (room.token, room.budgets) if room is not None else None
        spends = room is not None and refusal is None
        if spends:
            self._joining.add((nameplate, source))
        try:
            verdict = await self.directory.route_join(source, nameplate, mine, refusal is None)
        finally:
            if spends:
                self._joining.discard((nameplate, source))
        if not relay.unpark(c):
            return
        if verdict.kind == d.RATE_LIMITED:
            relay.refuse(c, Reason.RATE_LIMITED, verdict.wait, room=nameplate)
        elif verdict.kind == d.ELSEWHERE:
            self._elsewhere(c, req, verdict.owner, room=nameplate)
        elif room is None or relay.rooms.get(nameplate) is not room:
            relay.refuse(c, Reason.UNKNOWN_ROOM, room=nameplate)  # none, or it ended meanwhile
        elif (now := relay.join_refusal(c, room)) is not None:
            relay.refuse(c, *now, room=nameplate)
        elif verdict.kind == d.GO:
            relay.announce(c, room)
        else:  # refused before the round trip, so nothing was spent: still refused
            relay.refuse(c, *(refusal or (Reason.NO_ANSWER, 0)), room=nameplate)

    async def _reattach(self, c: Conn, req: routing.Request) -> None:
        from confide.relay import directory as d

        relay = self.relay
        local = req.token in relay.by_token
        verdict = await self.directory.route_reattach(source_key(c.ip), req.token, local)
        if not relay.unpark(c):
            return
        room = relay.by_token.get(req.token)
        if verdict.kind == d.RATE_LIMITED:
            relay.refuse(c, Reason.RATE_LIMITED, verdict.wait, request="reattach")
        elif verdict.kind == d.ELSEWHERE:
            self._elsewhere(c, req, verdict.owner, request="reattach")
        elif verdict.kind != d.GO or room is None:
            relay.refuse(c, Reason.UNKNOWN_ROOM, request="reattach")
        else:
            relay.take_over(c, room)

    async def _meet(self, c: Conn, req: routing.Request) -> None:
        from confide.relay import directory as d

        relay, name = self.relay, req.name
        shown = name[:NAME_SHOWN].hex()
        taken = name in relay.met
        local = taken or name in relay.meets
        verdict = await self.directory.route_meet(source_key(c.ip), name, local, taken)
        if not relay.unpark(c):
            return
        if verdict.kind == d.RATE_LIMITED:
            relay.refuse(c, Reason.RATE_LIMITED, verdict.wait, rendezvous=shown)
        elif verdict.kind == d.TAKEN:
            relay.refuse(c, Reason.MEET_TAKEN, rendezvous=shown)
        elif verdict.kind == d.ELSEWHERE:
            self._elsewhere(c, req, verdict.owner, rendezvous=shown)
        else:
            relay.meet_here(c, name)

    def _elsewhere(self, c: Conn, req: routing.Request, owner: str, **fields: Value) -> None:
        """Another node holds it: ``REDIRECT`` a client that follows, else ``CLOSE(elsewhere)``."""
        from confide.relay.directory import DirectoryUnavailable

        try:
            routing.check_address(owner)
        except ValueError:
            raise DirectoryUnavailable("bad-node-address") from None
        if req.follows_redirect:
            self.relay.redirect(c, owner, **fields)
        else:
            self.relay.refuse(c, Reason.ELSEWHERE, 0, **fields)

    # -- endings and the heartbeat -----------------------------------------

    def room_ended(self, nameplate: str, token: bytes) -> None:
        """The room is gone here: free its nameplate and token in Redis (a task, bounded)."""
        from confide.relay.directory import room_keys

        self._spawn(self._release(room_keys(nameplate, token)))

    def meet_ended(self, name: bytes) -> None:
        """The rendezvous is over here: free its name in Redis (a task, bounded)."""
        from confide.relay.directory import meet_key

        self._spawn(self._release((meet_key(name),)))

    async def _release(self, keys: tuple[str, ...]) -> None:
        from confide.relay.directory import DirectoryUnavailable

        try:
            await self.directory.release(keys)
        except DirectoryUnavailable as exc:
            self._down(exc)  # the keys expire by themselves

    async def _beat(self) -> None:
        from confide.relay.directory import DirectoryUnavailable, room_keys

        said = False
        while True:
            rooms = list(self.relay.rooms.values())
            keys = [key for room in rooms for key in room_keys(room.nameplate, room.token)]
            try:
                lost = await self.directory.refresh(self.node, keys)
            except DirectoryUnavailable as exc:
                self._down(exc)
            else:
                if not said:  # the first beat that worked says so, for the operator
                    self.relay.log.event("directory", state="ok")
                    self.healthy = True
                self._up()
                if lost:
                    self.relay.log.event("directory-conflict", keys=lost)
            said = True
            await asyncio.sleep(self.interval)


def candidates(taken: Container[str]) -> list[str]:
    """The nameplates an ``OPEN`` tries, in order: the in-memory allocator's rule, at once.

    16 random ones of 3 digits, then 16 of 4, up to 7 (as ``Relay._allocate``
    draws them one by one), less those in ``taken``; drawn from one block
    of random bytes, 8 per nameplate, so that 80 cost about one.
    """
    draws = _DRAWS.unpack(secrets.token_bytes(_DRAWS.size))
    found: dict[str, None] = {}
    for value, ceiling in zip(draws, _CEILINGS, strict=True):
        nameplate = str(1 + value % ceiling)
        if nameplate not in taken:
            found[nameplate] = None
    return list(found)


def _what(req: routing.Request) -> dict[str, Value]:
    """The log fields that name what a request asked for."""
    if req.kind == routing.JOIN:
        return {"room": req.nameplate}
    if req.kind == routing.MEET:
        return {"rendezvous": req.name[:NAME_SHOWN].hex()}
    if req.kind == routing.REATTACH:
        return {"request": "reattach"}
    return {}


async def start(relay: Relay, options: ClusterOptions, advertise: str, node: str) -> Cluster:
    """Make ``relay`` a node of the cluster ``options`` describe, reachable at ``advertise``."""
    from confide.relay.directory import Directory

    directory = Directory(
        options.redis_url, advertise, relay.limits, options.redis_timeout, options.directory_ttl
    )
    cluster = Cluster(relay, directory, node, options.directory_ttl)
    relay.cluster = cluster
    cluster.start()
    return cluster
