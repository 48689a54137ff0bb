"""This machine's LAN addresses, found without running a subprocess.

``ifaddr`` lists the network interfaces the same way on Linux, macOS and
Windows (the old tool ran ``ipconfig getifaddr en0``, which only works on a
Mac). Only IPv4 is used: it is what a LAN chat listens on by default
(``--bind 0.0.0.0``) and what people type after ``--at``.

``rank`` orders the candidates so the most likely LAN address comes first:
private ranges (192.168/16, then 10/8, then 172.16/12) before other
addresses, carrier-grade NAT (100.64/10) and link-local (169.254/16) last,
and interfaces that are known virtual bridges (docker, libvirt, VirtualBox,
VMware) after real ones. Loopback never appears. The pure ``rank`` takes
plain ``(interface, ip)`` pairs, so it is tested without touching the
machine; ``lan_addresses`` feeds it from ``ifaddr``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

VIRTUAL_PREFIXES = ("docker", "br-", "virbr", "vboxnet", "vmnet", "lxcbr", "lxdbr", "podman")
"""Interface names of common virtual bridges; their addresses are ranked after real ones."""

_CLASSES = (
    ipaddress.ip_network("192.168.0.0/16"),
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("172.16.0.0/12"),
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def _class_rank(ip: ipaddress.IPv4Address) -> int:
    for i, net in enumerate(_CLASSES):
        if ip in net:
            return i
    if ip.is_link_local:
        return len(_CLASSES) + 2
    if ip in _CGNAT:
        return len(_CLASSES) + 1
    return len(_CLASSES)


def usable(ip: str) -> bool:
    """Whether ``ip`` is an IPv4 address a LAN peer could connect to."""
    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError:
        return False
    return not (addr.is_loopback or addr.is_unspecified or addr.is_multicast or addr.is_reserved)


def rank(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """The usable IPv4 addresses of ``(interface, ip)`` pairs, best first, without repeats."""
    seen: dict[str, tuple[int, int, int]] = {}
    for order, (interface, ip) in enumerate(pairs):
        if not usable(ip) or ip in seen:
            continue
        virtual = int(interface.lower().startswith(VIRTUAL_PREFIXES))
        seen[ip] = (virtual, _class_rank(ipaddress.IPv4Address(ip)), order)
    return sorted(seen, key=seen.__getitem__)


def interface_addresses() -> list[tuple[str, str]]:
    """Every ``(interface, IPv4 address)`` pair of this machine, in the system's order."""
    import ifaddr

    pairs: list[tuple[str, str]] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if ip.is_IPv4 and isinstance(ip.ip, str):
                pairs.append((adapter.name, ip.ip))
    return pairs


def lan_addresses() -> list[str]:
    """This machine's usable IPv4 addresses, the most likely LAN address first."""
    return rank(interface_addresses())


def is_loopback(address: str) -> bool:
    """Whether ``address`` is a loopback IP literal or ``localhost``."""
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
