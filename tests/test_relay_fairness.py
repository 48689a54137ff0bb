"""Join limits on a real ``confide relay`` are fair per source address.

No lock-out: an attacker on 127.0.0.2 that
spams silent JOINs at a room and probes nameplates cannot stop a joiner on
127.0.0.3 from joining that room and chatting with its real host; one
address holds at most one waiting join per room; JOINs of rooms that do not
exist spend the prober's own budget and nobody else's. Every address here
is on loopback (127.0.0.0/8); the relay listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio

from proc import Launcher, Proc, message_line
from test_relay_support import (
    ALREADY_WAITING,
    INCOMING,
    OPENED,
    RATE_LIMITED,
    SPLICED,
    UNKNOWN_ROOM,
    close_frame,
    connect_from,
    join_frame,
    knock,
    read_frame,
    relay_host,
    start_relay,
)

from confide.net import relay_client
from confide.protocol import codes
from confide.protocol import messages as m

ATTACKER = "127.0.0.2"
JOINER = "127.0.0.3"
SPAM = 15
"""Silent JOINs the attacker sends at the real room (three times its burst)."""
PROBES = 12
"""Nameplates the attacker probes (more than its budget for missing rooms)."""
BURST = 5
"""The relay's default --join-burst and --unknown-room-burst."""
TEXT = "made it past the spam"


def _close(reason: int, retry_after: int = 0) -> tuple[int, bytes]:
    frame = close_frame(reason, retry_after)
    return frame[0], frame[4:]


def _reason(answer: tuple[int, bytes]) -> int:
    """The reason code of a ``CLOSE`` answer, or 0 for any other frame."""
    ftype, body = answer
    return body[0] if ftype == _close(RATE_LIMITED)[0] else 0


async def _attack(port: int, nameplate: str) -> tuple[list[tuple[int, bytes]], list[int]]:
    """Silent JOINs at ``nameplate``, then probes of missing rooms, all from ``ATTACKER``."""
    spam = [await knock(port, nameplate, ATTACKER) for _ in range(SPAM)]
    probes = [_reason(await knock(port, str(5000 + n), ATTACKER)) for n in range(PROBES)]
    return spam, probes


async def _join_and_say(port: int, code: str, host: Proc) -> None:
    """Join the room of ``code`` from ``JOINER`` with the client API; ``host`` shows ``TEXT``."""
    parsed = codes.parse(code)
    joined = await relay_client.connect(
        ("127.0.0.1", port), parsed.secret, parsed.nameplate, local_addr=(JOINER, 0)
    )
    try:
        joined.channel.send(m.Nick("carol"))
        joined.channel.send(m.Chat(1, TEXT))
        await joined.channel.drain()
        await asyncio.to_thread(host.expect_out, message_line("carol", TEXT))
    finally:
        await joined.channel.close()


def test_spam_and_probes_from_one_address_do_not_lock_out_another(confide: Launcher) -> None:
    relay = start_relay(confide, "--join-rate", "1")  # no attempt comes back during the test
    # A room for two: the relay's own burst (a bigger room's grows, test_relay_room_limits).
    host = relay_host(confide, relay.at, "--name", "alice", "--max-members", "2")
    nameplate = host.code.split("-")[0]

    spam, probes = asyncio.run(_attack(relay.port, nameplate))
    reached = [answer for answer in spam if answer[0] == SPLICED]
    assert len(reached) == BURST, f"{len(reached)} of the attacker's JOINs reached the host"
    assert _reason(spam[-1]) == RATE_LIMITED

    asyncio.run(_join_and_say(relay.port, host.code, host.proc))  # raises if refused
    assert probes[:BURST] == [UNKNOWN_ROOM] * BURST
    assert probes.count(RATE_LIMITED) >= PROBES - BURST - 1  # one may have come back meanwhile
    relay.proc.expect_err(rf" refused why=rate-limited ip=127\.0\.0\.2 room={nameplate}$")
    relay.proc.expect_err(rf" joined room={nameplate} joiner={BURST + 1} ip=127\.0\.0\.3$")


async def _open_room(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str, bytes]:
    """A scripted host: OPEN a room that never answers; its control link, nameplate and token."""
    reader, writer = await connect_from(port)
    writer.write(b"\x01\x00\x00\x01\x01")  # OPEN
    ftype, body = await read_frame(reader)
    assert ftype == OPENED
    return reader, writer, body[24:].decode("ascii"), body[:16]


async def _waiting_joins(port: int) -> dict[str, object]:
    control, host, nameplate, token = await _open_room(port)
    held = []
    try:
        first = await connect_from(port, ATTACKER)
        held.append(first[1])
        first[1].write(join_frame(nameplate))
        announced = [await read_frame(control)]
        again = await knock(port, nameplate, ATTACKER)  # the first one is still waiting
        other = await connect_from(port, JOINER)
        held.append(other[1])
        other[1].write(join_frame(nameplate))
        announced.append(await read_frame(control))

        accept = await connect_from(port)  # the host answers the first: it waits no more
        held.append(accept[1])
        accept[1].write(_accept_frame(token, 1))
        spliced = await read_frame(first[0])
        third = await connect_from(port, ATTACKER)
        held.append(third[1])
        third[1].write(join_frame(nameplate))
        announced.append(await read_frame(control))
        return {"announced": announced, "again": again, "spliced": spliced}
    finally:
        for writer in [*held, host]:
            writer.close()


def test_one_waiting_join_per_address_per_room(confide: Launcher) -> None:
    relay = start_relay(confide)
    got = asyncio.run(_waiting_joins(relay.port))
    assert got["again"] == _close(ALREADY_WAITING)
    assert got["announced"] == [
        (INCOMING, (1).to_bytes(4, "big")),  # the attacker's first
        (INCOMING, (2).to_bytes(4, "big")),  # the other address is not held up
        (INCOMING, (3).to_bytes(4, "big")),  # the attacker again, once its first was answered
    ]
    assert got["spliced"] == (SPLICED, b"")
    relay.proc.expect_err(r" refused why=already-waiting ip=127\.0\.0\.2 room=\d+$")


async def _probing(port: int) -> dict[str, object]:
    control, host, nameplate, _ = await _open_room(port)
    held = []
    try:
        probes = [_reason(await knock(port, str(5000 + n), ATTACKER)) for n in range(PROBES)]
        hidden = await knock(port, nameplate, ATTACKER)  # out of budget: not even a real room
        elsewhere = _reason(await knock(port, "5000", JOINER))
        joiner = await connect_from(port, JOINER)
        held.append(joiner[1])
        joiner[1].write(join_frame(nameplate))
        return {
            "probes": probes,
            "hidden": _reason(hidden),
            "elsewhere": elsewhere,
            "announced": await read_frame(control),
        }
    finally:
        for writer in [*held, host]:
            writer.close()


def test_probing_missing_rooms_spends_only_the_probers_budget(confide: Launcher) -> None:
    relay = start_relay(confide)
    got = asyncio.run(_probing(relay.port))
    probes = got["probes"]
    assert isinstance(probes, list)
    assert probes[:BURST] == [UNKNOWN_ROOM] * BURST
    assert probes.count(RATE_LIMITED) >= PROBES - BURST - 1  # one may have come back meanwhile
    assert got["hidden"] == RATE_LIMITED  # the prober cannot tell a real room from a missing one
    assert got["elsewhere"] == UNKNOWN_ROOM  # another address still has its whole budget
    assert got["announced"] == (INCOMING, (1).to_bytes(4, "big"))
    relay.proc.expect_err(r" refused why=unknown-room ip=127\.0\.0\.2 room=5000$")
    relay.proc.expect_err(r" refused why=rate-limited ip=127\.0\.0\.2 room=\d+$")


def _accept_frame(token: bytes, joiner: int) -> bytes:
    return b"\x03\x00\x00\x15\x01" + token + joiner.to_bytes(4, "big")


async def _two_joins_from_one_address(port: int, relay: Proc) -> list[tuple[int, bytes]]:
    """Two client-API joins at once from ``JOINER``; the scripted host takes them one by one."""
    control, host, nameplate, token = await _open_room(port)
    at = ("127.0.0.1", port)
    joins = [
        asyncio.ensure_future(relay_client.join(at, nameplate, local_addr=(JOINER, 0)))
        for _ in range(2)
    ]
    held = [host]
    try:
        announced = [await read_frame(control)]
        # The other join was turned away while this one waits, and will try again.
        await asyncio.to_thread(relay.expect_err, r" refused why=already-waiting ip=127\.0\.0\.3 ")
        for joiner in (1, 2):
            reader, writer = await connect_from(port)
            held.append(writer)
            writer.write(_accept_frame(token, joiner))
            assert (await read_frame(reader))[0] == SPLICED
            if joiner == 1:
                announced.append(await read_frame(control))
        for _, joined in await asyncio.gather(*joins):
            joined.close()
        return announced
    finally:
        for join in joins:
            join.cancel()
        for writer in held:
            writer.close()


def test_a_second_joiner_behind_the_same_address_gets_in_after_the_first(
    confide: Launcher,
) -> None:
    relay = start_relay(confide)
    announced = asyncio.run(_two_joins_from_one_address(relay.port, relay.proc))
    assert announced == [(INCOMING, (1).to_bytes(4, "big")), (INCOMING, (2).to_bytes(4, "big"))]


async def _joins_against_a_small_room_budget(port: int) -> list[tuple[str, object]]:
    """JOINs from several addresses; the scripted host accepts each one it is told of."""
    control, host, nameplate, token = await _open_room(port)
    held = [host]

    async def join(source: str) -> tuple[str, object]:
        reader, writer = await connect_from(port, source)
        held.append(writer)
        writer.write(join_frame(nameplate))
        told = asyncio.ensure_future(read_frame(control))
        answered = asyncio.ensure_future(read_frame(reader))
        await asyncio.wait({told, answered}, return_when=asyncio.FIRST_COMPLETED)
        if answered.done():  # refused: the host was told nothing
            told.cancel()
            return source, _reason(answered.result())
        joiner = int.from_bytes(told.result()[1], "big")
        accept_reader, accept_writer = await connect_from(port)
        held.append(accept_writer)
        accept_writer.write(_accept_frame(token, joiner))
        assert (await answered)[0] == SPLICED
        assert (await read_frame(accept_reader))[0] == SPLICED
        return source, "joined"

    try:
        return [await join(source) for source in [ATTACKER] * 8 + [JOINER, "127.0.0.4"]]
    finally:
        for writer in held:
            writer.close()


def test_only_joins_that_reach_the_host_spend_the_rooms_budget(confide: Launcher) -> None:
    relay = start_relay(
        confide,
        *("--join-burst", "2", "--join-rate", "1"),
        *("--room-join-burst", "3", "--room-join-rate", "1"),
    )
    got = asyncio.run(_joins_against_a_small_room_budget(relay.port))
    assert got == [
        *[(ATTACKER, "joined")] * 2,
        *[(ATTACKER, RATE_LIMITED)] * 6,  # its own budget is spent; the room's is not touched
        (JOINER, "joined"),  # the room's third and last
        ("127.0.0.4", RATE_LIMITED),  # now the room's budget is spent
    ]
