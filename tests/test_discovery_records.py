"""Unit tests: what a host puts on the LAN, which records a joiner accepts, and
how this machine's LAN address is chosen."""

from __future__ import annotations

import ipaddress
import re
import secrets

import pytest

from confide.net import discovery as d
from confide.net import localip
from confide.protocol import codes
from confide.protocol.handshake import SUPPORTED_VERSIONS


def _code() -> codes.Code:
    return codes.generate(codes.new_nameplate(secrets.randbelow), 3, secrets.randbelow)


def test_txt_record_holds_only_version_and_nameplate() -> None:
    code = _code()
    record = d.txt_record(code.nameplate)
    assert record == {"v": ",".join(map(str, SUPPORTED_VERSIONS)), "np": code.nameplate}
    flat = " ".join(record.values())
    assert not any(word in flat for word in code.words)


def test_advertised_service_has_no_secret_nick_or_host_name() -> None:
    code = _code()
    adv = d.Advertiser(["10.1.2.3"], 7100, code.nameplate, lambda _s: None)
    info = adv._info()
    assert set(info.properties) == {b"v", b"np"}
    assert info.properties[b"np"] == code.nameplate.encode()
    assert re.fullmatch(r"confide-[0-9a-f]{8}\._confide\._tcp\.local\.", info.name)
    assert info.server is not None
    assert re.fullmatch(r"confide-[0-9a-f]{8}\.local\.", info.server)
    assert info.port == 7100
    assert info.parsed_addresses() == ["10.1.2.3"]
    seen = repr((info.name, info.server, info.properties, info.text)).lower()
    # Whole tokens: a word may also be a piece of the service's fixed labels
    # ("local") or of its random hex label ("face", "beef"), which leak nothing.
    # (a TXT record's length bytes show as \\xNN escapes: they split tokens too)
    plain = re.sub(r"\\x[0-9a-f]{2}", " ", seen)
    tokens = set(re.split(r"[^0-9a-z]+", plain)) - {"confide", "tcp", "local"}
    assert not tokens & set(code.words)
    adv.update("42")
    assert adv._info().properties[b"np"] == b"42"
    assert adv._info().name == info.name  # a retired code changes only the TXT record


def test_password_room_advertises_an_empty_nameplate() -> None:
    assert d.txt_record("")["np"] == ""
    assert d.matches({b"v": b"1", b"np": b""}, "")
    assert not d.matches({b"v": b"1", b"np": b""}, "7")
    assert not d.matches({b"v": b"1", b"np": b"7"}, "")


@pytest.mark.parametrize(
    ("props", "room", "ok"),
    [
        ({b"v": b"1", b"np": b"7"}, "7", True),
        ({b"v": b"1,2", b"np": b"7"}, "7", True),
        ({b"v": b"1", b"np": b"77"}, "7", False),
        ({b"v": b"9", b"np": b"7"}, "7", False),  # no version in common
        ({b"np": b"7"}, "7", False),
        ({b"v": b"1"}, "7", False),
        ({b"v": None, b"np": b"7"}, "7", False),
        ({b"v": b"1", b"np": None}, "", True),  # older zeroconf: "np=" reads as None
        ({b"v": b"1", b"np": None}, "7", False),
        ({b"v": b"1"}, "", False),  # no nameplate key at all is not a password room
    ],
)
def test_matches(props: dict[bytes, bytes | None], room: str, ok: bool) -> None:
    assert d.matches(props, room) is ok


def test_advertise_addresses_follow_the_bind_address() -> None:
    assert d.advertise_addresses("127.0.0.1")[0] == []
    assert d.advertise_addresses("localhost")[0] == []
    assert d.advertise_addresses("::1")[0] == []
    assert d.advertise_addresses("10.9.8.7") == (["10.9.8.7"], "")
    addresses, why = d.advertise_addresses("fe80::1")
    assert addresses == []
    assert "IPv4" in why
    assert d.advertise_addresses("0.0.0.0")[0] == localip.lan_addresses()


def test_rank_prefers_private_lan_addresses() -> None:
    pairs = [
        ("lo", "127.0.0.1"),
        ("docker0", "172.17.0.1"),
        ("wg0", "100.64.3.4"),
        ("eth1", "169.254.10.1"),
        ("eth0", "203.0.113.9"),
        ("wlan0", "192.168.1.20"),
        ("eth2", "10.0.0.5"),
        ("wlan0", "192.168.1.20"),
        ("weird", "not-an-ip"),
        ("mc", "224.0.0.251"),
        ("any", "0.0.0.0"),
    ]
    assert localip.rank(pairs) == [
        "192.168.1.20",
        "10.0.0.5",
        "203.0.113.9",
        "100.64.3.4",
        "169.254.10.1",
        "172.17.0.1",
    ]


def test_lan_addresses_of_this_machine() -> None:
    found = localip.lan_addresses()
    real = {ip for _name, ip in localip.interface_addresses()}
    assert set(found) <= real
    assert "127.0.0.1" in real  # ifaddr really enumerated the interfaces
    for ip in found:
        assert not ipaddress.IPv4Address(ip).is_loopback


@pytest.mark.parametrize(
    ("text", "loop"), [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True),
                       ("localhost", True), ("10.0.0.1", False), ("example.org", False)]
)  # fmt: skip
def test_is_loopback(text: str, loop: bool) -> None:
    assert localip.is_loopback(text) is loop
