"""End to end: the 5-guess limit holds against parallel and early joiners.

Attackers here are real sockets speaking the real joiner protocol
(``tcp.handshake_joiner`` or ``relay_client``) against real ``confide host``
processes:

- 40 and 1,000 wrong guesses at once: at most 5 are answered per code (a
  joiner learns its guess was wrong only if the host checked it);
- a connection opened before the code was retired cannot finish a handshake
  with the old code after it, directly or through a relay;
- a password room closes after 5 wrong passwords (one exact line, exit 3),
  and the right password after that fails;
- at most 4 handshakes run at once: the next waits, the host says so once,
  and the real joiner gets in when a slot frees; silent connections hold no
  slot, so they don't delay it at all;
- 20 refused second joiners give a few lines and one summary.
"""

from __future__ import annotations

import asyncio
import collections
import re

import pytest
from proc import Hosted, Launcher, Proc, connected
from test_relay_support import relay_host, start_relay

from confide.errors import AuthenticationError, ConfideError, RefusedError
from confide.net import relay_client, tcp
from confide.protocol import codes
from confide.protocol.connection import Connection
from confide.protocol.handshake import JOINER

WRONG_GUESS = r"^a join failed: wrong code or password \((\d)/5\)$"
PASSWORD = "correct horse battery staple"
CLOSED_LINE = "5 wrong passwords: this room is closed; host again with a new password"


def _wrong(code: str) -> codes.Code:
    """Same nameplate, other (valid) words."""
    real = codes.parse(code)
    fake = codes.parse("-".join([real.nameplate, "abandon", "ability", "able"]))
    return fake if fake.secret != real.secret else codes.parse(f"{real.nameplate}-zoo-zone-zero")


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, AuthenticationError):
        return "wrong"  # the host checked this guess
    if isinstance(exc, RefusedError):
        return f"refused: {exc}"
    if isinstance(exc, ConfideError | OSError):
        return "closed"
    raise exc


async def _join(
    streams: tuple[asyncio.StreamReader, asyncio.StreamWriter], secret: bytes, room: str
) -> str:
    """Run the joiner's handshake on an open stream; what came of it."""
    reader, writer = streams
    try:
        joined = await tcp.handshake_joiner(reader, writer, secret, room, timeout=30)
    except Exception as exc:
        return _outcome(exc)
    await joined.channel.close()
    return "joined"


async def _guess(port: int, secret: bytes, room: str) -> str:
    """One joiner's handshake over a fresh loopback connection."""
    try:
        streams = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return "closed"
    return await _join(streams, secret, room)


async def _guesses(port: int, code: codes.Code, count: int) -> collections.Counter[str]:
    results = await asyncio.gather(
        *(_guess(port, code.secret, code.nameplate) for _ in range(count))
    )
    return collections.Counter(results)


def _parallel_wrong_guesses(confide: Launcher, count: int) -> None:
    host = confide.host("--name", "alice", "--handshake-timeout", "5")
    assert host.code is not None
    old = host.code
    seen = asyncio.run(_guesses(host.port, _wrong(old), count))
    assert sum(seen.values()) == count
    assert 1 <= seen["wrong"] <= 5, seen  # at most 5 guesses answered, the rest refused
    assert "joined" not in seen
    host.proc.expect_err("that code is retired")  # all 40 were wrong: 5 failures, retired
    host.next_code()
    failed = [line for line in host.proc.err_lines if "wrong code or password" in line]
    assert len(failed) == seen["wrong"], host.proc
    assert asyncio.run(_guess(host.port, codes.parse(old).secret, codes.parse(old).nameplate)) != (
        "joined"
    )
    assert host.code is not None
    joiner = confide.join(host, "--name", "bob")
    connected(host.proc, joiner)


def test_forty_parallel_wrong_guesses_get_at_most_five_answers(confide: Launcher) -> None:
    _parallel_wrong_guesses(confide, 40)


def test_a_thousand_parallel_wrong_guesses_get_at_most_five_answers(confide: Launcher) -> None:
    _parallel_wrong_guesses(confide, 1000)


async def _early_then_retired(port: int, old: codes.Code, proc: Proc) -> str:
    """Open a connection, retire the code with 5 wrong guesses, then try the old code on it."""
    early = await asyncio.open_connection("127.0.0.1", port)
    for attempt in range(1, 6):
        assert await _guess(port, _wrong(str(old)).secret, old.nameplate) == "wrong"
        found = await asyncio.to_thread(proc.expect_err, WRONG_GUESS)
        assert found.group(1) == str(attempt)
    await asyncio.to_thread(proc.expect_err, "that code is retired")
    return await _join(early, old.secret, old.nameplate)


def test_a_connection_from_before_retirement_cannot_use_the_old_code(confide: Launcher) -> None:
    host = confide.host("--name", "alice", "--handshake-timeout", "20")
    assert host.code is not None
    old = codes.parse(host.code)
    result = asyncio.run(_early_then_retired(host.port, old, host.proc))
    assert result.startswith("refused: no such room"), result
    assert "SAS:" not in host.proc.err


async def _early_then_retired_via_relay(relay: tuple[str, int], old: codes.Code, proc: Proc) -> str:
    early = await relay_client.join(relay, old.nameplate, timeout=10)
    wrong = _wrong(str(old))
    for attempt in range(1, 6):
        with pytest.raises(AuthenticationError):
            await relay_client.connect(relay, wrong.secret, wrong.nameplate, timeout=10)
        found = await asyncio.to_thread(proc.expect_err, WRONG_GUESS)
        assert found.group(1) == str(attempt)
    await asyncio.to_thread(proc.expect_err, "that code is retired")
    return await _join(early, old.secret, old.nameplate)


def test_through_a_relay_a_joiner_from_before_retirement_cannot_use_the_old_code(
    confide: Launcher,
) -> None:
    relay = start_relay(confide, "--join-burst", "50", "--room-join-burst", "100")
    host = relay_host(confide, relay.at, "--name", "alice", "--handshake-timeout", "20")
    old = codes.parse(host.code)
    result = asyncio.run(_early_then_retired_via_relay(("127.0.0.1", relay.port), old, host.proc))
    assert result == "wrong", result  # the host answered with the new code's secret
    new = codes.parse(host.proc.expect_err(r"^code: (\S+)$").group(1))
    assert new.nameplate == old.nameplate  # the relay's nameplate stays; the words changed
    assert new.secret != old.secret
    assert "SAS:" not in host.proc.err


async def _relay_guesses(relay: tuple[str, int], code: codes.Code, count: int) -> list[str]:
    """``count`` wrong joins at once, each from its own loopback address (one may wait each)."""

    async def one(n: int) -> str:
        source = (f"127.0.1.{n + 1}", 0)
        try:
            joined = await relay_client.connect(
                relay, code.secret, code.nameplate, timeout=20, local_addr=source
            )
        except Exception as exc:
            return _outcome(exc)
        await joined.channel.close()
        return "joined"

    return list(await asyncio.gather(*(one(n) for n in range(count))))


def test_forty_parallel_wrong_guesses_through_a_relay_get_at_most_five_answers(
    confide: Launcher,
) -> None:
    relay = start_relay(confide, "--room-join-burst", "100")
    host = relay_host(confide, relay.at, "--name", "alice", "--handshake-timeout", "5")
    seen = collections.Counter(
        asyncio.run(_relay_guesses(("127.0.0.1", relay.port), _wrong(host.code), 40))
    )
    for _ in range(seen["wrong"]):
        host.proc.expect_err(WRONG_GUESS)  # the host's lines may lag behind the joiners
    codes_used = 1 + host.proc.err.count("that code is retired")
    assert 1 <= seen["wrong"] <= 5 * codes_used, (seen, host.proc)  # at most 5 per code
    assert "joined" not in seen
    counts = [int(n) for n in re.findall(r"wrong code or password \((\d)/5\)", host.proc.err)]
    assert counts == [n % 5 + 1 for n in range(len(counts))], host.proc


# -- password rooms --------------------------------------------------------


def _password_host(confide: Launcher) -> Hosted:
    return confide.host(
        "--name", "alice", "--password", env={"CONFIDE_PASSWORD": PASSWORD}, with_code=False
    )


def test_five_wrong_passwords_close_the_room_and_the_right_one_then_fails(
    confide: Launcher,
) -> None:
    host = _password_host(confide)

    async def attack() -> str:
        early = await asyncio.open_connection("127.0.0.1", host.port)  # before the 5 guesses
        for attempt in range(1, 6):
            wrong = f"wrong guess {attempt}".encode()
            assert await _guess(host.port, wrong, "") == "wrong"
            found = await asyncio.to_thread(host.proc.expect_err, WRONG_GUESS)
            assert found.group(1) == str(attempt)
        return await _join(early, PASSWORD.encode(), "")

    assert asyncio.run(attack()) != "joined"
    assert host.proc.wait() == 3, host.proc
    assert host.proc.err_lines[-1] == CLOSED_LINE, host.proc
    assert "SAS:" not in host.proc.err
    late = confide.join(
        host, "--name", "bob", "--password", code="", env={"CONFIDE_PASSWORD": PASSWORD}
    )
    assert late.wait() == 4, late  # nobody listens any more


def test_wrong_password_joiners_in_parallel_close_the_room(confide: Launcher) -> None:
    host = _password_host(confide)

    async def attack() -> collections.Counter[str]:
        found = await asyncio.gather(
            *(_guess(host.port, f"guess {i}".encode(), "") for i in range(40))
        )
        return collections.Counter(found)

    seen = asyncio.run(attack())
    assert seen["wrong"] == 5, seen
    assert host.proc.wait() == 3, host.proc
    assert host.proc.err_lines[-1] == CLOSED_LINE, host.proc


# -- the concurrency cap ---------------------------------------------------


async def _stalled(port: int) -> asyncio.StreamWriter:
    """A connection that sends the start of a hello and then nothing."""
    hello = Connection(JOINER, b"x", bytes)
    hello.start()
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(hello.data_to_send()[:7])
    await writer.drain()
    return writer


def test_handshakes_over_the_cap_wait_their_turn_and_the_joiner_gets_in(
    confide: Launcher,
) -> None:
    host = confide.host("--name", "alice", "--handshake-timeout", "5")

    async def scenario() -> None:
        stalled = [await _stalled(host.port) for _ in range(5)]  # 4 take the slots, 1 waits
        await asyncio.to_thread(host.proc.expect_err, "join attempts at once")
        joiner = confide.join(host, "--name", "bob")
        await asyncio.to_thread(connected, host.proc, joiner, timeout=20)
        for writer in stalled:
            writer.close()

    asyncio.run(scenario())
    lines = host.proc.err_lines
    busy = [line for line in lines if "join attempts at once" in line]
    assert busy == ["4 join attempts at once: more wait their turn (up to 6 s)"], host.proc
    sas = next(i for i, line in enumerate(lines) if line.startswith("SAS: "))
    timed_out = [line for line in lines[:sas] if line.endswith("timed out after 5 s")]
    assert len(timed_out) == 4, host.proc  # the joiner got a slot when the stalled ones ended


def test_silent_connections_hold_no_slot(confide: Launcher) -> None:
    host = confide.host("--name", "alice")  # silent connections last 10 s

    async def scenario() -> list[str]:
        silent = [(await asyncio.open_connection("127.0.0.1", host.port))[1] for _ in range(12)]
        joiner = confide.join(host, "--name", "bob")
        await asyncio.to_thread(connected, host.proc, joiner, timeout=15)
        lines = host.proc.err_lines
        for writer in silent:
            writer.close()
        return lines

    lines = asyncio.run(scenario())
    assert not any("timed out" in line or "at once" in line for line in lines), host.proc


# -- repeated refusals -----------------------------------------------------


def test_many_second_joiners_give_a_few_lines_and_a_summary(confide: Launcher) -> None:
    host = confide.host("--name", "alice", "--max-members", "2")
    joiner = confide.join(host, "--name", "bob")
    connected(host.proc, joiner)
    assert host.code is not None
    code = codes.parse(host.code)

    async def knock() -> collections.Counter[str]:
        return await _guesses(host.port, code, 20)

    seen = asyncio.run(knock())
    assert seen == {"refused: room full (2 members)": 20}, seen
    full = "refused a joiner: room full (2 members)"
    summary = host.proc.expect_err(rf"^{re.escape(full)} \((\d+) more times\)$", 15)
    shown = [line for line in host.proc.err_lines if line == full]
    assert len(shown) <= 5, host.proc
    assert len(shown) + int(summary.group(1)) == 20, host.proc
    joiner.say("still here")
    host.proc.expect_out(r"bob: still here$")
