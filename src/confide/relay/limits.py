"""The relay's limits: one flag each, with defaults a small public relay can live with.

``Limits`` holds them; ``add_arguments`` puts the flags on the ``confide
relay`` parser and ``from_args`` reads them back, refusing nonsense with a
usage error. ``JoinBucket`` is the token bucket behind each join limit.

The join limits are fair per source address, so nobody can spend someone
else's budget: each address has its own budget per room (``--join-burst``,
``--join-rate``) and its own budget for JOINs of rooms that do not exist
(``--unknown-room-burst``, ``--unknown-room-rate``), which makes probing
nameplates slow for the prober alone. A ``MEET`` (two ends of a session
meeting again under a random name) spends its address's own budget of the
same size as a join's (``--join-burst``, ``--join-rate``). A room also has a budget for all
addresses together (``--room-join-burst``, ``--room-join-rate``), spent only
by joins that reached its host; it bounds how fast many addresses can guess
a code. Its burst must be above one address's and its rate at least one
address's, so one address never leaves it empty.

A room's join budgets grow with its size. A host whose room holds more than
two members declares its limit in ``OPEN``; ``room_budgets`` then adds one
join to every burst, and one per minute to every rate, of that room for
each member above two, both the room's budget and each address's budget in
it (the members of a team often share one NAT address). The defaults stay
on top as the guessing margin. A host cannot claim more than
``--max-room-members``: a bigger declaration gets that size's budgets. A
room for two keeps the flags' budgets exactly. An "address" here is an
IPv4 address or an IPv6 /64 (``source_key``): one IPv6 host usually has a
whole /64 to pick addresses from.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
from dataclasses import dataclass, fields

from confide.errors import UsageError
from confide.wire.routing import MAX_DECLARED, PAIR


@dataclass(frozen=True, slots=True)
class Limits:
    """Every limit the relay enforces."""

    max_frame: int = 256
    """Largest routing frame body a client may send, in bytes."""
    hello_timeout: float = 10.0
    """Seconds a connection has to name what it wants (and a joiner waits for its host)."""
    idle_timeout: float = 600.0
    """Seconds without a byte either way before a pair or a room's control link is closed."""
    max_per_ip: int = 100
    """Connections open at once from one IP address."""
    max_connections: int = 10000
    """Connections open at once in total."""
    max_rooms: int = 1000
    """Rooms open at once."""
    room_lifetime: float = 3600.0
    """Seconds a nameplate lives; chats already going carry on after it."""
    join_burst: int = 5
    """Join attempts one address may make on one nameplate at once."""
    join_rate: float = 10.0
    """Further join attempts one address may make on one nameplate per minute."""
    room_join_burst: int = 20
    """Joins that reach one room's host, from all addresses together, allowed at once."""
    room_join_rate: float = 60.0
    """Further joins that reach one room's host, from all addresses, allowed per minute."""
    unknown_room_burst: int = 5
    """JOINs of rooms that do not exist one address may make at once."""
    unknown_room_rate: float = 10.0
    """Further JOINs of rooms that do not exist one address may make per minute."""
    max_room_members: int = 50
    """The largest room size whose declaration widens a room's join budgets."""
    meet_timeout: float = 60.0
    """Seconds a ``MEET`` waits for the other end before ``CLOSE(meet-timeout)``."""
    room_grace: float = 300.0
    """Seconds a room outlives a lost control connection, for its host to ``REATTACH`` (0: none)."""


_FLAGS: dict[str, tuple[str, str]] = {
    "max_frame": ("BYTES", "largest routing frame a client may send"),
    "hello_timeout": ("SECONDS", "time a new connection has to name its room"),
    "idle_timeout": ("SECONDS", "close a pair or room after this long without traffic"),
    "max_per_ip": ("N", "connections at once from one IP address"),
    "max_connections": ("N", "connections at once in total"),
    "max_rooms": ("N", "rooms open at once"),
    "room_lifetime": ("SECONDS", "how long a nameplate lives (running chats carry on)"),
    "join_burst": ("N", "join attempts on one nameplate from one address allowed at once"),
    "join_rate": ("PER_MINUTE", "further join attempts per nameplate per address per minute"),
    "room_join_burst": ("N", "joins reaching one room's host, all addresses together, at once"),
    "room_join_rate": ("PER_MINUTE", "further joins reaching one room's host per minute"),
    "unknown_room_burst": ("N", "JOINs of rooms that do not exist from one address at once"),
    "unknown_room_rate": ("PER_MINUTE", "further JOINs of missing rooms per address per minute"),
    "max_room_members": ("N", "largest room size a host may declare to widen its join limits"),
    "meet_timeout": ("SECONDS", "how long a MEET waits for the other end of its session"),
    "room_grace": ("SECONDS", "keep a room whose host lost the relay this long (0: end it)"),
}
_ZERO_ALLOWED = frozenset({"room_grace"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per limit, each showing its default."""
    defaults = Limits()
    group = parser.add_argument_group("limits")
    for f in fields(Limits):
        metavar, text = _FLAGS[f.name]
        default = getattr(defaults, f.name)
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            type=type(default),
            default=default,
            metavar=metavar,
            help=f"{text} (default: {default:g})",
        )


def from_args(args: argparse.Namespace) -> Limits:
    """The limits the flags ask for; ``UsageError`` if one is out of range."""
    values = {f.name: getattr(args, f.name) for f in fields(Limits)}
    for name, value in values.items():
        if name in _ZERO_ALLOWED and value == 0:
            continue
        if not math.isfinite(value) or value <= 0:
            floor = "0 or more" if name in _ZERO_ALLOWED else "above 0"
            raise UsageError(f"--{name.replace('_', '-')} must be {floor}")
    if values["max_frame"] < 64:
        raise UsageError("--max-frame must be at least 64 (an ACCEPT frame is 21 bytes)")
    if values["room_join_burst"] <= values["join_burst"]:
        raise UsageError(
            "--room-join-burst must be above --join-burst (or one address could use it up)"
        )
    if values["room_join_rate"] < values["join_rate"]:
        raise UsageError(
            "--room-join-rate must be at least --join-rate (or one address could use it up)"
        )
    if not PAIR <= values["max_room_members"] <= MAX_DECLARED:
        raise UsageError(f"--max-room-members must be {PAIR} to {MAX_DECLARED}")
    return Limits(**values)


@dataclass(frozen=True, slots=True)
class RoomBudgets:
    """The join budgets of one room, sized for its members."""

    members: int
    """The room size the budgets are for (the declaration, capped)."""
    room_burst: int
    room_rate: float
    address_burst: int
    address_rate: float


def room_budgets(limits: Limits, declared: int = PAIR) -> RoomBudgets:
    """The join budgets of a room whose host declared ``declared`` members.

    Each member above two adds one join at once and one per minute, to the
    room's budget and to each address's in it; the declaration counts up
    to ``limits.max_room_members``.
    """
    members = max(PAIR, min(declared, limits.max_room_members))
    extra = members - PAIR
    return RoomBudgets(
        members,
        limits.room_join_burst + extra,
        limits.room_join_rate + extra,
        limits.join_burst + extra,
        limits.join_rate + extra,
    )


def source_key(ip: str) -> str:
    """What the per-address join limits count as one address: IPv4 as is, IPv6 by its /64."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(addr) >> 64 << 64, 64)))
    return ip


class JoinBucket:
    """A token bucket: ``burst`` attempts at once, refilled at ``per_minute``."""

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens")

    def __init__(self, burst: int, per_minute: float, now: float) -> None:
        """A full bucket at time ``now`` (seconds, monotonic)."""
        self._burst = float(burst)
        self._rate = per_minute / 60.0
        self._tokens = float(burst)
        self._stamp = now

    def wait(self, now: float) -> int:
        """0 if an attempt is free at ``now`` (none is spent), else seconds until one is."""
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            return 0
        return max(1, math.ceil((1.0 - self._tokens) / self._rate))

    def spend(self) -> None:
        """Spend one attempt (after ``wait`` said one is free)."""
        self._tokens -= 1.0

    def take(self, now: float) -> int:
        """Spend one attempt: 0 if allowed, else whole seconds until one is free."""
        wait = self.wait(now)
        if not wait:
            self.spend()
        return wait

    def full(self, now: float) -> bool:
        """Whether the bucket has refilled completely (so it can be forgotten)."""
        return self._tokens + (now - self._stamp) * self._rate >= self._burst


class Budgets:
    """One ``JoinBucket`` per key (a source address, or a room and an address).

    A key gets its bucket when it first spends and loses it once the bucket
    has refilled (``prune``), so an address that stopped knocking costs nothing.
    """

    __slots__ = ("_buckets", "_burst", "_rate")

    def __init__(self, burst: int, per_minute: float) -> None:
        """Budgets of ``burst`` attempts at once, refilled at ``per_minute``."""
        self._burst = burst
        self._rate = per_minute
        self._buckets: dict[object, JoinBucket] = {}

    def wait(self, key: object, now: float) -> int:
        """0 if ``key`` may make an attempt at ``now`` (nothing is spent), else seconds to wait."""
        bucket = self._buckets.get(key)
        return 0 if bucket is None else bucket.wait(now)

    def spend(
        self, key: object, now: float, burst: int | None = None, per_minute: float | None = None
    ) -> None:
        """Spend one of ``key``'s attempts at ``now``.

        A key without a bucket gets one of ``burst`` and ``per_minute`` if
        they are given (a room sized for its members), else of the budgets' own.
        """
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = JoinBucket(
                self._burst if burst is None else burst,
                self._rate if per_minute is None else per_minute,
                now,
            )
        bucket.take(now)

    def prune(self, now: float) -> None:
        """Forget the buckets that are full again."""
        full = [key for key, bucket in self._buckets.items() if bucket.full(now)]
        for key in full:
            del self._buckets[key]

    def __len__(self) -> int:
        """How many keys have a bucket (that is not full)."""
        return len(self._buckets)
