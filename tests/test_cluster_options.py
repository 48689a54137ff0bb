"""Unit tests of a relay node's cluster options, directory keys and node name in the log."""

from __future__ import annotations

import io

import pytest

from confide.errors import UsageError
from confide.relay.cluster import (
    ClusterOptions,
    candidates,
    default_advertise,
    options_from,
    shown_url,
)
from confide.relay.directory import hashed, meet_key, nameplate_key, room_keys, token_key
from confide.relay.log import EventLog

URL = "redis://10.0.0.5:6379/0"


def _options(environ: dict[str, str] | None = None, **flags: object) -> ClusterOptions | None:
    given: dict[str, object] = {
        "redis": None,
        "advertise": None,
        "node": None,
        "directory_ttl": 15.0,
        "redis_timeout": 0.5,
        "bind": "127.0.0.1",
    }
    given.update(flags)
    return options_from(environ or {}, **given)  # type: ignore[arg-type]


def test_without_redis_there_is_no_cluster() -> None:
    assert _options() is None
    assert _options(bind="0.0.0.0") is None  # a plain relay on every address is fine


def test_the_redis_url_comes_from_the_flag_or_the_environment() -> None:
    assert _options(redis=URL) == ClusterOptions(URL)
    from_env = _options({"CONFIDE_RELAY_REDIS": URL}, node="a")
    assert from_env == ClusterOptions(URL, node="a")
    other = "redis://10.0.0.6:6379/1"
    flag_wins = _options({"CONFIDE_RELAY_REDIS": URL}, redis=other)
    assert flag_wins is not None
    assert flag_wins.redis_url == other


@pytest.mark.parametrize(
    ("bind", "port", "expected"),
    [
        ("127.0.0.1", 7200, "127.0.0.1:7200"),
        ("10.0.0.11", 7201, "10.0.0.11:7201"),
        ("::1", 7200, "[::1]:7200"),
        ("relay.example", 7200, "relay.example:7200"),
        ("0.0.0.0", 7200, None),
        ("::", 7200, None),
        ("0.0.0.0,::", 7200, None),
        ("10.0.0.11,10.0.0.12", 7200, None),
    ],
)
def test_a_node_advertises_its_one_specific_bind_address(
    bind: str, port: int, expected: str | None
) -> None:
    assert default_advertise(bind, port) == expected


def test_a_wildcard_bind_needs_an_advertised_address() -> None:
    with pytest.raises(UsageError, match="--advertise HOST:PORT is required"):
        _options(redis=URL, bind="0.0.0.0")
    got = _options(redis=URL, bind="0.0.0.0", advertise="relay.example:7200")
    assert got == ClusterOptions(URL, advertise="relay.example:7200")


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        ({"advertise": "relay.example:7200"}, "with --redis"),
        ({"redis": "http://x/"}, "redis://HOST:PORT/DB"),
        ({"redis": URL, "advertise": "relay.example"}, "--advertise relay.example"),
        ({"redis": URL, "advertise": "::1:7200"}, "brackets"),
        ({"redis": URL, "node": "a=b"}, "--node"),
        ({"redis": URL, "node": "x" * 65}, "--node"),
        ({"redis": URL, "redis_timeout": 0.0}, "--redis-timeout"),
        ({"redis": URL, "directory_ttl": float("nan")}, "--directory-ttl"),
    ],
)
def test_wrong_cluster_options_are_usage_errors(flags: dict[str, object], words: str) -> None:
    with pytest.raises(UsageError) as info:
        _options(None, **flags)
    assert words in str(info.value)


def test_the_log_shows_the_redis_url_without_its_password() -> None:
    assert shown_url("redis://:secret@10.0.0.5:6379/0") == "redis://10.0.0.5:6379/0"
    assert shown_url("rediss://user:secret@redis.example:6380/2") == "rediss://redis.example:6380/2"
    assert shown_url(URL) == URL


def test_tokens_and_rendezvous_names_are_hashed_in_redis() -> None:
    secret = bytes(range(16))
    assert hashed(secret) == "be45cb2605bf36bebde684841a28f0fd"  # sha256(0..15)[:16]
    assert room_keys("815", secret) == (nameplate_key("815"), token_key(secret))
    assert nameplate_key("815") == "confide:np:815"
    for key in (token_key(secret), meet_key(secret)):
        assert secret.hex() not in key
        assert key.endswith(hashed(secret))


def test_a_nodes_log_names_it_on_every_line() -> None:
    out = io.StringIO()
    log = EventLog(out, clock=lambda: 0.0)
    log.event("opened", room="815")
    log.node = "relay-a"
    log.event("opened", room="816")
    log.refused("elsewhere", ip="192.0.2.1")
    assert out.getvalue().splitlines() == [
        "1970-01-01T00:00:00Z opened room=815",
        "1970-01-01T00:00:00Z opened node=relay-a room=816",
        "1970-01-01T00:00:00Z refused node=relay-a why=elsewhere ip=192.0.2.1",
    ]


def test_an_open_in_a_cluster_tries_the_in_memory_allocators_nameplates() -> None:
    tried = candidates(set())
    assert len(tried) == len(set(tried)) >= 75  # 80 drawn; a repeat is dropped
    assert all(int(n) <= 999 for n in tried[:10])  # 16 of 1 to 999 first, then of 1 to 9999...
    assert max(int(n) for n in tried) <= 9_999_999
    assert all(n.isdigit() and not n.startswith("0") for n in tried)
    busy = {str(n) for n in range(1, 1000)}  # every 3-digit nameplate is taken here
    others = candidates(busy)
    assert not busy & set(others)
    assert all(int(n) >= 1000 for n in others)
