"""The relay nodes' shared directory: nameplates, rooms, rendezvous and budgets in Redis.

Several ``confide relay --redis URL`` nodes share one Redis (or Valkey).
This module is the only one that talks to it, through the ``redis``
package's asyncio client; ``cluster`` decides what to ask and when.

The decisions of clients' requests (``reserve``, ``route_*``) go on
*lanes*, connections of the directory's own (at most ``MAX_BATCHES``),
not through the pool: one sender uses a lane at a time, so nothing stands
between a decision and its round trip (no pool lock, no pipeline object,
no extra task). A node with nothing in flight sends a decision from the
asking task at once; what comes meanwhile queues, and goes as a pipeline
of every decision waiting, at most ``MAX_BATCHES`` in flight, so a burst
of requests costs a few round trips instead of one each. The scripts are
loaded (``SCRIPT LOAD``) on the first batch and after any failure, then
run by ``EVALSHA``. The other calls (heartbeat, releases, ``PING``) use
the pool: at most ``POOL_SIZE`` at once; a burst waits its turn (at most
half the hello timeout). Every call runs under
``asyncio.timeout(timeout)`` (the connections have no socket timeout of
their own: redis-py would wrap each write in ``asyncio.wait_for``, a task
per call) and any failure (Redis down, slow, restarted, or a reply that
makes no sense) raises ``DirectoryUnavailable``; the client reconnects by
itself on the next call.
Each request of a client costs one round trip: every decision is one Lua
script, run atomically by Redis, so no check-then-set race exists between
nodes. Scripts go by ``EVALSHA`` and are loaded again when Redis lost
them (a restart).

What Redis holds (every key starts with ``confide:``)::

    np:NAMEPLATE          -> the node's address    a room's nameplate (TTL: --directory-ttl)
    tok:HASH              -> the node's address    a room's token, hashed (TTL: --directory-ttl)
    meet:HASH             -> the node's address    a MEET's rendezvous, hashed (TTL: --meet-timeout)
    node:NAME             -> the node's address    the node is alive (TTL: --directory-ttl)
    b:miss:SOURCE         {t, s}                   JOINs of missing rooms from one address
    b:meet:SOURCE         {t, s}                   MEETs from one address
    b:join:HASH:SOURCE    {t, s}                   one address's JOINs in one room
    b:room:HASH           {t, s}                   all JOINs in one room

The releases of rooms and rendezvous that ended queue too, and go
together: one script call for up to ``BATCH`` keys.

A room's keys live as long as the node refreshes them (``refresh``, the
node's heartbeat), so the rooms of a node that died expire on their own.
A token and a rendezvous name are stored only as a SHA-256 hash (16 bytes
of it in hex): whoever reads Redis cannot ``REATTACH`` or ``MEET`` with them.
A budget is a token bucket ``{t: tokens, s: stamp}`` counted with Redis's
own clock (``TIME``), with the same burst, rate and rules as
``limits.JoinBucket``; it expires once it would be full again, as the
in-memory one is pruned. ``SOURCE`` is ``limits.source_key`` of the
client's IP address.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError

from confide.errors import ConfideError
from confide.relay.limits import Limits, RoomBudgets

PREFIX = "confide:"
POOL_SIZE = 16
"""Redis calls one node has running at most (the rest wait their turn, bounded)."""
HASH_BYTES = 16
BATCH = 500
"""Keys one ``refresh`` or ``release`` script call handles at most."""

GO = 0
"""Go on locally: the room or rendezvous is this node's (budgets spent if asked)."""
RATE_LIMITED = 1
UNKNOWN = 2
"""Nobody holds it (the unknown-room budget was spent)."""
ELSEWHERE = 3
"""Another node holds it: ``Verdict.owner`` is that node's address."""
NOT_SPENT = 4
"""The room is this node's, but the node said it would refuse the JOIN: nothing spent."""
TAKEN = 5
"""Two ends already met under this rendezvous name here."""

_T = TypeVar("_T")
Arg = str | int | float
_Pending = tuple[AsyncScript, list[str], list[Arg], "asyncio.Future[object]"]
"""A decision waiting to be sent: its script, keys, arguments, and where its reply goes."""
MAX_BATCHES = 4
"""Pipelines of decisions a node has in flight at once; what comes meanwhile waits for the next."""
MAX_BATCH = 256

_BUCKETS = """
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function level(key, burst, rate, now)
  local v = redis.call('HMGET', key, 't', 's')
  if not v[1] then return burst end
  local tokens = tonumber(v[1]) + (now - tonumber(v[2])) * rate
  if tokens > burst then return burst end
  return tokens
end
local function wait(tokens, rate)
  if tokens >= 1 then return 0 end
  return math.max(1, math.ceil((1 - tokens) / rate))
end
local function spend(key, tokens, burst, rate, now)
  tokens = tokens - 1
  redis.call('HSET', key, 't', string.format('%.6f', tokens), 's', string.format('%.6f', now))
  redis.call('PEXPIRE', key, math.ceil((burst - tokens) / rate * 1000) + 1000)
end
"""

ROUTE = (
    _BUCKETS
    + """
-- KEYS: miss bucket, directory key (np: or tok:), join bucket, room bucket
-- ARGV: me, local (1/0), mode ('1' spend the join budgets, '0' spend nothing, '-' a REATTACH),
--       miss burst, miss rate, address burst, address rate, room burst, room rate (per second)
local now = now_s()
local mb, mr = tonumber(ARGV[4]), tonumber(ARGV[5])
local miss = level(KEYS[1], mb, mr, now)
local w = wait(miss, mr)
if w > 0 then return {1, w} end
if ARGV[2] ~= '1' then
  local owner = redis.call('GET', KEYS[2])
  if owner and owner ~= ARGV[1] then return {3, owner} end
  spend(KEYS[1], miss, mb, mr, now)
  return {2, 0}
end
if ARGV[3] == '-' then return {0, 0} end
if ARGV[3] ~= '1' then return {4, 0} end
local ab, ar = tonumber(ARGV[6]), tonumber(ARGV[7])
local rb, rr = tonumber(ARGV[8]), tonumber(ARGV[9])
local a = level(KEYS[3], ab, ar, now)
local r = level(KEYS[4], rb, rr, now)
w = wait(a, ar)
if w == 0 then w = wait(r, rr) end
if w > 0 then return {1, w} end
spend(KEYS[3], a, ab, ar, now)
spend(KEYS[4], r, rb, rr, now)
return {0, 0}
"""
)

MEET = (
    _BUCKETS
    + """
-- KEYS: meet bucket, meet:HASH.  ARGV: me, local (1/0), taken (1/0), ttl ms, burst, rate
local now = now_s()
local b, r = tonumber(ARGV[5]), tonumber(ARGV[6])
local tokens = level(KEYS[1], b, r, now)
local w = wait(tokens, r)
if w > 0 then return {1, w} end
if ARGV[3] == '1' then return {5, 0} end
if ARGV[2] ~= '1' then
  local owner = redis.call('GET', KEYS[2])
  if owner and owner ~= ARGV[1] then return {3, owner} end
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
end
spend(KEYS[1], tokens, b, r, now)
return {0, 0}
"""
)

RESERVE = f"""
-- KEYS: the token key.  ARGV: me, ttl ms, the nameplate candidates in order (one string,
-- space-separated: one argument packs far faster than 80).  Returns the first it got, or ''.
for nameplate in string.gmatch(ARGV[3], '%d+') do
  if redis.call('SET', '{PREFIX}np:' .. nameplate, ARGV[1], 'NX', 'PX', ARGV[2]) then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return nameplate
  end
end
return ''
"""

REFRESH = """
-- KEYS: this node's keys.  ARGV: me, ttl ms.  Returns how many another node holds now.
local lost = 0
for i = 1, #KEYS do
  local owner = redis.call('GET', KEYS[i])
  if not owner or owner == ARGV[1] then
    redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
  else
    lost = lost + 1
  end
end
return lost
"""

RELEASE = """
-- KEYS: keys this node is done with.  ARGV: me.  Deletes those that are still this node's.
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 0
"""


class DirectoryUnavailable(ConfideError):
    """Redis did not answer in time, or failed: the node refuses what needs it."""

    def __init__(self, cause: str) -> None:
        """``cause``: one word for the log (``timeout``, ``ConnectionError``...)."""
        super().__init__(f"relay directory unavailable ({cause})")
        self.cause = cause


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the directory decided about a JOIN, REATTACH or MEET."""

    kind: int
    """``GO``, ``RATE_LIMITED``, ``UNKNOWN``, ``ELSEWHERE``, ``NOT_SPENT`` or ``TAKEN``."""
    wait: int = 0
    """Seconds to wait, for ``RATE_LIMITED``."""
    owner: str = ""
    """The address of the node that holds it, for ``ELSEWHERE``."""


def hashed(secret: bytes) -> str:
    """How a token or a rendezvous name appears in Redis: 16 bytes of its SHA-256, in hex."""
    return hashlib.sha256(secret).digest()[:HASH_BYTES].hex()


def nameplate_key(nameplate: str) -> str:
    """The key of a room's nameplate."""
    return f"{PREFIX}np:{nameplate}"


def token_key(token: bytes) -> str:
    """The key of a room's token (hashed)."""
    return f"{PREFIX}tok:{hashed(token)}"


def meet_key(name: bytes) -> str:
    """The key of a MEET's rendezvous name (hashed)."""
    return f"{PREFIX}meet:{hashed(name)}"


def node_key(node: str) -> str:
    """The key that says node ``node`` is alive."""
    return f"{PREFIX}node:{node}"


def room_keys(nameplate: str, token: bytes) -> tuple[str, str]:
    """The two directory keys of one room."""
    return nameplate_key(nameplate), token_key(token)


class Directory:
    """One node's view of the shared directory: every method is one bounded round trip."""

    def __init__(self, url: str, me: str, limits: Limits, timeout: float, ttl: float) -> None:
        """A directory at ``url`` for the node reachable at ``me``; nothing connects yet."""
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=timeout,
            socket_timeout=None,  # every call is under asyncio.timeout (module docstring)
            socket_connect_timeout=timeout,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),
        )
        self.redis: Redis = Redis(connection_pool=pool)
        self.me = me
        self.limits = limits
        self.timeout = timeout
        self.queue_timeout = max(timeout, limits.hello_timeout / 2)
        """Seconds a request may wait for a free connection (a burst of them queues)."""
        self._slots = asyncio.Semaphore(POOL_SIZE)
        self.ttl_ms = max(1, round(ttl * 1000))
        self._queue: list[_Pending] = []
        self._senders = 0
        """Decisions or batches of them in flight (at most ``MAX_BATCHES``)."""
        self._leading = False
        """Whether the one in flight was sent by the task that asked it."""
        self._lanes: list[AbstractConnection] = []
        """Idle connections for decisions (at most ``MAX_BATCHES``: one per sender)."""
        self._loaded = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._releases: list[tuple[list[str], asyncio.Future[None]]] = []
        """Keys to delete, of each ``release`` call waiting, and where its outcome goes."""
        self._releasing = False
        self._route = self.redis.register_script(ROUTE)
        self._meet = self.redis.register_script(MEET)
        self._reserve = self.redis.register_script(RESERVE)
        self._refresh = self.redis.register_script(REFRESH)
        self._release = self.redis.register_script(RELEASE)

    async def _bounded(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """``call()`` on one of the node's connections: a bounded wait for it, a bounded call."""
        try:
            async with asyncio.timeout(self.queue_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise DirectoryUnavailable("busy") from None
        try:
            async with asyncio.timeout(self.timeout):
                return await call()
        except TimeoutError:
            raise DirectoryUnavailable("timeout") from None
        except (RedisError, OSError) as exc:
            raise DirectoryUnavailable(type(exc).__name__) from None
        finally:
            self._slots.release()

    async def _decide(self, script: AsyncScript, keys: list[str], args: list[Arg]) -> object:
        """Run one decision script, bounded: at once when nothing is in flight, else batched.

        A node that is not busy sends a decision from the asking task itself,
        with no hand-off to another task. While that one is in flight, what
        comes queues, and goes in one pipeline once it is answered, in the
        order it came; later batches go as before.
        """
        done: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        pending: _Pending = (script, keys, args, done)
        if self._senders == 0:
            self._senders, self._leading = 1, True
            try:
                await self._send([pending])
            finally:
                self._senders, self._leading = self._senders - 1, False
                self._hand_on()
        else:
            self._queue.append(pending)
            if not self._leading:
                self._hand_on()
        try:
            async with asyncio.timeout(self.queue_timeout + self.timeout):
                return await done
        except TimeoutError:
            raise DirectoryUnavailable("busy") from None

    def _hand_on(self) -> None:
        """Decisions wait in the queue and a lane is free: a task sends them in batches."""
        if self._queue and self._senders < MAX_BATCHES:
            self._senders += 1
            task = asyncio.get_running_loop().create_task(self._send_batches())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_batches(self) -> None:
        """Send what is queued, one pipeline at a time, until nothing is; then end."""
        try:
            while self._queue:
                batch = [p for p in self._queue[:MAX_BATCH] if not p[3].done()]
                del self._queue[:MAX_BATCH]
                if batch:
                    await self._send(batch)
        finally:
            self._senders -= 1

    async def _send(self, batch: list[_Pending]) -> None:
        results: list[object] = []
        failure: DirectoryUnavailable | None = None
        try:
            results = await self._on_lane(batch)
        except DirectoryUnavailable as exc:
            failure = exc
            self._loaded = False  # a Redis that comes back may have lost the scripts
        for (_, _, _, done), result in zip(batch, results or [None] * len(batch), strict=True):
            if done.done():
                continue
            if failure is not None:
                done.set_exception(failure)
            elif isinstance(result, Exception):
                done.set_exception(DirectoryUnavailable(type(result).__name__))
            else:
                done.set_result(result)

    async def _on_lane(self, batch: list[_Pending]) -> list[object]:
        """Every decision of ``batch`` in one round trip on an idle lane, bounded by the timeout.

        A lane is a connection of its own, not the pool's: one sender uses it
        at a time, so no pool, lock or pipeline object stands between a
        decision and its round trip. Like the pool, it checks a lane before
        use (connected, and not closed by Redis meanwhile) and connects it
        again if need be. That check misses a lane Redis closed while the
        node asked nothing (a restart during a quiet spell: redis-py 5.0.1
        and 8.2 alike), so a lane that was idle and fails on its connection
        is connected afresh and asked once more, within the same timeout;
        run again, a decision at worst spends a budget twice or holds a
        nameplate until its TTL. A failed lane is closed, whatever failed
        (redis-py closes it too, on a timeout or an error mid-reply).
        """
        idle = bool(self._lanes)
        lane = self._lanes.pop() if idle else self._new_lane()
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    return await self._connected(lane, batch)
                except (RedisConnectionError, OSError):
                    if not idle:
                        raise
                    await lane.disconnect(nowait=True)
                    return await self._connected(lane, batch)
        except BaseException as exc:
            # A lane left mid-reply (a timeout, an error, a cancelled task) may still
            # owe replies: the next batch would read them as its own. Close it; the
            # next use connects it again.
            with contextlib.suppress(RedisError, OSError):
                await lane.disconnect(nowait=True)
            if isinstance(exc, TimeoutError):
                raise DirectoryUnavailable("timeout") from None
            if isinstance(exc, (RedisError, OSError)):
                raise DirectoryUnavailable(type(exc).__name__) from None
            raise
        finally:
            self._lanes.append(lane)

    async def _connected(self, lane: AbstractConnection, batch: list[_Pending]) -> list[object]:
        # connected, and not closed by Redis meanwhile (as far as redis-py can tell)
        await self.redis.connection_pool.ensure_connection(lane)
        return await self._pipeline(lane, batch)

    def _new_lane(self) -> AbstractConnection:
        pool = self.redis.connection_pool
        lane: AbstractConnection = pool.connection_class(**pool.connection_kwargs)
        return lane

    async def _pipeline(self, lane: AbstractConnection, batch: list[_Pending]) -> list[object]:
        """Every decision of ``batch`` in one round trip (the scripts loaded first if need be)."""
        if not self._loaded:
            await self._load(lane)
        results = await self._evalsha(lane, batch)
        lost = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if lost:  # Redis restarted between two batches: those never ran, so run them again
            await self._load(lane)
            again = await self._evalsha(lane, [batch[i] for i in lost])
            for i, result in zip(lost, again, strict=True):
                results[i] = result
        return results

    async def _load(self, lane: AbstractConnection) -> None:
        self._loaded = False
        for script in (self._route, self._meet, self._reserve):
            await lane.send_command("SCRIPT", "LOAD", script.script, check_health=False)
            await lane.read_response()
        self._loaded = True

    @staticmethod
    async def _evalsha(lane: AbstractConnection, batch: list[_Pending]) -> list[object]:
        """Send every ``EVALSHA`` of ``batch`` at once, then read their replies in order."""
        commands = [("EVALSHA", s.sha, len(keys), *keys, *args) for s, keys, args, _ in batch]
        await lane.send_packed_command(lane.pack_commands(commands), check_health=False)
        results: list[object] = []
        for _ in batch:
            try:
                results.append(await lane.read_response())
            except ResponseError as exc:  # this script's error: the others still answer
                results.append(exc)
        return results

    async def ping(self) -> None:
        """Check that Redis answers."""
        await self._bounded(self.redis.ping)

    async def reserve(self, candidates: Sequence[str], token: bytes) -> str | None:
        """The first of ``candidates`` no node holds, now this node's with ``token``.

        None if every candidate is taken.
        """
        if not candidates:
            return None
        keys = [token_key(token)]
        args: list[Arg] = [self.me, self.ttl_ms, " ".join(candidates)]
        got = await self._decide(self._reserve, keys, args)
        return got if isinstance(got, str) and got in candidates else None

    async def route_join(
        self,
        source: str,
        nameplate: str,
        room: tuple[bytes, RoomBudgets] | None,
        spend: bool,
    ) -> Verdict:
        """Decide a JOIN of ``nameplate`` from ``source``: one script, one round trip.

        ``room`` is this node's room of that nameplate (its token and
        budgets), None if this node has none; ``spend`` says whether the
        node would announce the JOIN (its own checks passed), so only then
        are the join budgets spent.
        """
        lim = self.limits
        if room is None:
            hashed_token, budgets = "-", None
        else:
            hashed_token, budgets = hashed(room[0]), room[1]
        keys = [
            f"{PREFIX}b:miss:{source}",
            nameplate_key(nameplate),
            f"{PREFIX}b:join:{hashed_token}:{source}",
            f"{PREFIX}b:room:{hashed_token}",
        ]
        args: list[Arg] = [
            self.me,
            0 if budgets is None else 1,
            1 if spend else 0,
            lim.unknown_room_burst,
            lim.unknown_room_rate / 60,
        ]
        if budgets is not None:
            args += [budgets.address_burst, budgets.address_rate / 60]
            args += [budgets.room_burst, budgets.room_rate / 60]
        return self._verdict(await self._decide(self._route, keys, args))

    async def route_reattach(self, source: str, token: bytes, local: bool) -> Verdict:
        """Decide a REATTACH with ``token`` from ``source`` (``local``: this node has the room)."""
        lim = self.limits
        keys = [f"{PREFIX}b:miss:{source}", token_key(token), "-", "-"]
        args: list[Arg] = [self.me, 1 if local else 0, "-"]
        args += [lim.unknown_room_burst, lim.unknown_room_rate / 60]
        return self._verdict(await self._decide(self._route, keys, args))

    async def route_meet(self, source: str, name: bytes, local: bool, taken: bool) -> Verdict:
        """Decide a MEET under ``name`` from ``source``; a first end here claims the name.

        ``local``: one end waits here already (or the pair is here);
        ``taken``: two ends met under it here.
        """
        lim = self.limits
        keys = [f"{PREFIX}b:meet:{source}", meet_key(name)]
        ttl = max(1, round(lim.meet_timeout * 1000))
        args: list[Arg] = [self.me, 1 if local else 0, 1 if taken else 0, ttl]
        args += [lim.join_burst, lim.join_rate / 60]
        return self._verdict(await self._decide(self._meet, keys, args))

    async def refresh(self, node: str, keys: Sequence[str]) -> int:
        """Keep this node's ``keys`` (and its own ``node:`` key) alive for another TTL.

        Keys that expired (a Redis outage, a restart) are set again; returns
        how many another node holds meanwhile (those stay the other's).
        """
        lost = 0
        await self._bounded(lambda: self.redis.set(node_key(node), self.me, px=self.ttl_ms))
        for start in range(0, len(keys), BATCH):
            batch = list(keys[start : start + BATCH])
            refresh = partial(self._refresh, keys=batch, args=[self.me, self.ttl_ms])
            got = await self._bounded(refresh)
            lost += got if isinstance(got, int) else 0
        return lost

    async def release(self, keys: Sequence[str]) -> None:
        """Delete ``keys`` that are still this node's (a room or a rendezvous that ended).

        Releases queue and go together: one script call deletes the keys of
        every room that ended meanwhile (up to ``BATCH`` keys a call), so
        closing a thousand rooms costs a few round trips, not a thousand.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._releases.append((list(keys), done))
        if not self._releasing:
            self._releasing = True
            task = asyncio.get_running_loop().create_task(self._send_releases())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            async with asyncio.timeout(self.queue_timeout + self.timeout):
                await done
        except TimeoutError:
            raise DirectoryUnavailable("busy") from None

    async def _send_releases(self) -> None:
        """Send the queued releases, up to ``BATCH`` keys a script call, until none are left."""
        try:
            while self._releases:
                count, size = 0, 0
                for keys, _ in self._releases:
                    if count and size + len(keys) > BATCH:
                        break
                    count, size = count + 1, size + len(keys)
                taken, self._releases = self._releases[:count], self._releases[count:]
                batch = [key for keys, _ in taken for key in keys]
                failure: DirectoryUnavailable | None = None
                try:
                    for start in range(0, len(batch), BATCH):  # one release may be larger
                        keys = batch[start : start + BATCH]
                        await self._bounded(partial(self._release, keys=keys, args=[self.me]))
                except DirectoryUnavailable as exc:
                    failure = exc
                for _, done in taken:
                    if done.done():
                        continue
                    if failure is None:
                        done.set_result(None)
                    else:
                        done.set_exception(failure)
        finally:
            self._releasing = False

    async def close(self) -> None:
        """Close the connections to Redis."""
        lanes, self._lanes = self._lanes, []
        try:
            async with asyncio.timeout(self.timeout):
                for lane in lanes:
                    await lane.disconnect()
                await self.redis.aclose(close_connection_pool=True)
        except (RedisError, OSError, TimeoutError):
            pass

    @staticmethod
    def _verdict(reply: object) -> Verdict:
        if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[0], int):
            raise DirectoryUnavailable("unexpected-reply")
        kind, value = reply
        if kind == ELSEWHERE:
            return Verdict(ELSEWHERE, owner=str(value))
        if kind == RATE_LIMITED and isinstance(value, int):
            return Verdict(RATE_LIMITED, wait=value)
        if kind in (GO, UNKNOWN, NOT_SPENT, TAKEN):
            return Verdict(kind)
        raise DirectoryUnavailable("unexpected-reply")
