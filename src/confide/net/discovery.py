"""LAN discovery with zeroconf (mDNS/DNS-SD): find the host by the code's nameplate.

A host advertises one ``_confide._tcp.local.`` service. Its instance name is
``confide-RANDOM`` (never a nick or a host name) and its TXT record holds
only two public things: ``v``, the protocol versions it speaks, and ``np``,
the nameplate of its code (empty for a ``--password`` room). The secret words
never leave the machine. When the host retires its code after too many
failed joins, only the TXT record changes.

A host advertises only when it listens on a LAN address: all interfaces
(``--bind 0.0.0.0``, the default) or one specific non-loopback IPv4 address.
Bound to loopback it stays silent, and ``--no-discovery`` turns it off.
Registration runs in the background, so listening never waits for it; if
multicast is impossible the host says so in one line and keeps working.

``confide join`` without ``--at`` browses for a few seconds and connects to
the host whose ``np`` equals the code's nameplate. Nameplates are short, so
two hosts on one LAN may share one: each match is tried in turn, and a wrong
host costs nothing but one failed handshake. A password room has no
nameplate: the joiner connects when exactly one password room is
advertised, and asks for ``--at`` when there are several.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from confide.errors import AuthenticationError, ClosedError, ConfideError
from confide.net import localip, tcp
from confide.net.channel import describe
from confide.net.host import Established
from confide.protocol.handshake import SUPPORTED_VERSIONS, RandomBytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

SERVICE_TYPE = "_confide._tcp.local."
TXT_VERSIONS = "v"
TXT_NAMEPLATE = "np"
DEFAULT_DISCOVER_TIMEOUT = 5.0
GATHER_TIME = 0.3
"""After the first match, how long to keep listening for other hosts with the same nameplate."""
RESOLVE_TIMEOUT_MS = 1500
CLOSE_TIMEOUT = 2.0
MAX_CANDIDATES = 4

Status = Callable[[str], None]


def txt_record(nameplate: str) -> dict[str, str]:
    """The whole TXT record for a room: protocol versions and nameplate, nothing else."""
    return {TXT_VERSIONS: ",".join(str(v) for v in SUPPORTED_VERSIONS), TXT_NAMEPLATE: nameplate}


def instance_name(token: str) -> str:
    """The service instance name: ``confide-TOKEN`` (random, never a nick)."""
    return f"confide-{token}.{SERVICE_TYPE}"


def advertise_addresses(bind: str) -> tuple[list[str], str]:
    """The IPv4 addresses to advertise for a listener on ``bind``, or ``[]`` and why not."""
    if bind in ("", "0.0.0.0", "::"):
        found = localip.lan_addresses()
        return found, "" if found else "no network interface with an IPv4 address"
    if localip.is_loopback(bind):
        return [], f"listening on {bind} only"
    if localip.usable(bind):
        return [bind], ""
    return [], f"it works with IPv4 addresses only, not {bind}"


@dataclass(frozen=True, slots=True)
class Found:
    """One advertised host that matches the room we look for."""

    name: str
    addresses: tuple[str, ...]
    port: int


def matches(properties: Mapping[bytes, bytes | None], room: str) -> bool:
    """Whether a TXT record names ``room`` and a protocol version we speak."""
    key = TXT_NAMEPLATE.encode()
    if key not in properties:
        return False
    nameplate = properties[key] or b""  # older zeroconf reads an empty value ("np=") as None
    versions = (properties.get(TXT_VERSIONS.encode()) or b"").split(b",")
    ours = {str(v).encode() for v in SUPPORTED_VERSIONS}
    return nameplate == room.encode() and bool(ours & set(versions))


class Advertiser:
    """Advertises one hosted room on the LAN, in the background."""

    def __init__(self, addresses: list[str], port: int, room: str, status: Status) -> None:
        """Prepare to advertise ``room`` at ``addresses``:``port``; ``start`` begins."""
        self.addresses = addresses
        self.port = port
        self.room = room
        self.status = status
        self.token = secrets.token_hex(4)
        self._zc: AsyncZeroconf | None = None
        self._registered: AsyncServiceInfo | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin registering; returns at once."""
        self._task = asyncio.create_task(self._run())

    def update(self, room: str) -> None:
        """Advertise a new nameplate (the code was retired)."""
        self.room = room
        self._changed.set()

    def _info(self) -> AsyncServiceInfo:
        from zeroconf.asyncio import AsyncServiceInfo

        return AsyncServiceInfo(
            SERVICE_TYPE,
            instance_name(self.token),
            addresses=[socket.inet_aton(a) for a in self.addresses],
            port=self.port,
            properties=txt_record(self.room),
            server=f"confide-{self.token}.local.",
        )

    async def _run(self) -> None:
        hint = f"{self.addresses[0]}:{self.port}"
        try:
            from zeroconf import IPVersion
            from zeroconf.asyncio import AsyncZeroconf

            self._zc = AsyncZeroconf(interfaces=self.addresses, ip_version=IPVersion.V4Only)
            info = self._info()
            await (await self._zc.async_register_service(info, allow_name_change=True))
            self._registered = info
        except Exception as exc:
            self.status(f"LAN discovery unavailable ({describe(exc)}): joiners need --at {hint}")
            return
        self.status(f"LAN: joiners on this network need only the code (elsewhere: --at {hint})")
        while True:
            await self._changed.wait()
            self._changed.clear()
            info = self._info()
            try:
                await (await self._zc.async_update_service(info))
            except Exception as exc:
                self.status(f"LAN discovery stopped ({describe(exc)}): joiners need --at {hint}")
                return
            self._registered = info

    async def close(self) -> None:
        """Withdraw the advertisement and close the sockets; never raises."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        zc, self._zc = self._zc, None
        if zc is None:
            return
        if self._registered is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(zc.async_unregister_all_services(), CLOSE_TIMEOUT)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(zc.async_close(), CLOSE_TIMEOUT)


def start_advertising(bind: str, port: int, room: str, status: Status) -> Advertiser | None:
    """Advertise a host listening on ``bind``:``port``, or return None if that can't work."""
    addresses, why = advertise_addresses(bind)
    if not addresses:
        if not localip.is_loopback(bind):  # loopback hosts are quiet: that is a choice
            status(f"LAN discovery off ({why}): joiners need --at HOST:{port}")
        return None
    advertiser = Advertiser(addresses, port, room, status)
    advertiser.start()
    return advertiser


async def discover(room: str, timeout: float) -> list[Found]:
    """Browse for hosts advertising ``room`` for up to ``timeout`` seconds.

    Returns as soon as one is found (plus ``GATHER_TIME`` for others).
    ``ClosedError`` if the LAN can't be browsed at all.
    """
    from zeroconf import IPVersion, ServiceStateChange, Zeroconf
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

    try:
        azc = AsyncZeroconf(ip_version=IPVersion.V4Only)
    except Exception as exc:
        raise ClosedError(f"cannot search the LAN ({describe(exc)}): add --at HOST:PORT") from None
    found: dict[str, Found] = {}
    got = asyncio.Event()
    pending: set[asyncio.Task[None]] = set()

    async def resolve(name: str) -> None:
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if not await info.async_request(azc.zeroconf, RESOLVE_TIMEOUT_MS):
            return
        addresses = tuple(a for a in info.parsed_addresses(IPVersion.V4Only) if localip.usable(a))
        if info.port and addresses and matches(info.properties, room):
            found[name] = Found(name, addresses, info.port)
            got.set()
        else:
            found.pop(name, None)

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            found.pop(name, None)
            return
        task = asyncio.ensure_future(resolve(name))
        pending.add(task)
        task.add_done_callback(pending.discard)

    browser: AsyncServiceBrowser | None = None
    try:
        browser = AsyncServiceBrowser(azc.zeroconf, [SERVICE_TYPE], handlers=[on_change])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(got.wait(), timeout)
        if found:
            await asyncio.sleep(GATHER_TIME)
        return sorted(found.values(), key=lambda f: f.name)
    except ConfideError:
        raise
    except Exception as exc:
        raise ClosedError(f"cannot search the LAN ({describe(exc)}): add --at HOST:PORT") from None
    finally:
        for task in list(pending):
            task.cancel()
        with contextlib.suppress(Exception):
            if browser is not None:
                await asyncio.wait_for(browser.async_cancel(), CLOSE_TIMEOUT)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(azc.async_close(), CLOSE_TIMEOUT)


async def join_discovered(
    room: str,
    secret: bytes,
    status: Status,
    *,
    discover_timeout: float = DEFAULT_DISCOVER_TIMEOUT,
    timeout: float = tcp.CONNECT_TIMEOUT,
    rand: RandomBytes = secrets.token_bytes,
    identity: Ed25519PrivateKey | None = None,
    require_pq: bool = False,
) -> Established:
    """Find the host of ``room`` on the LAN and complete the handshake with it."""
    what = f"nameplate {room}" if room else "a password room"
    status(f"looking for {what} on the LAN ({discover_timeout:g} s)")
    found = await discover(room, discover_timeout)
    if not found:
        raise ClosedError(f"no host with {what} found on this LAN: add --at HOST:PORT")
    if not room and len(found) > 1:
        raise ClosedError("several password rooms on this LAN: add --at HOST:PORT to pick one")
    failure: ConfideError | None = None
    for host in found[:MAX_CANDIDATES]:
        for address in host.addresses:
            status(f"found it at {address}:{host.port}; connecting")
            try:
                return await tcp.connect(
                    address,
                    host.port,
                    secret,
                    room,
                    timeout=timeout,
                    rand=rand,
                    identity=identity,
                    require_pq=require_pq,
                )
            except AuthenticationError as exc:
                failure = exc  # the wrong host (a shared nameplate) or a wrong code
                break
            except ConfideError as exc:
                if not isinstance(failure, AuthenticationError):
                    failure = exc
    raise failure or ClosedError(f"could not reach the host with {what}")
