"""Three real relay nodes on one real Redis, with real ``confide`` clients (issue 15).

Every test starts its own ``redis-server`` (``redis_server`` fixture: a free
loopback port, no persistence) and three ``confide relay --redis`` nodes
A, B and C on loopback, each advertising its own address. Clients are real
line-mode ``confide host``/``join`` processes:

- a host on A with joiners through B and C, in a room of three, and a chat
  of two whose joiner is redirected: every message arrives;
- node A killed with SIGKILL mid-chat: host and joiner, given
  ``--relay A,B``, resume through B and nothing is lost; the host's room
  comes back on B with a new code, which a new joiner through C can use;
- Redis stopped: the running chat goes on, a new ``confide host`` fails
  with the clear line (exit 4); Redis started again: a new host works.

(The nodes' answers frame by frame, ``CLOSE(elsewhere)`` to an old client
included, are ``test_relay_cluster``'s.)

Every wait is for a line (or a process's end), bounded.
"""

from __future__ import annotations

import re
import signal

from proc import Launcher, Proc, connected, message_line
from redis_server import RedisServer
from test_relay_support import (
    RelayHosted,
    RunningRelay,
    relay_host,
    relay_join,
    start_relay,
)

ALICE, BOB, CAROL, DAVE = "alice", "bob", "carol", "dave"
ELSEWHERE = 19
TTL = "2"
"""The nodes' ``--directory-ttl`` here: a killed node's rooms are gone after 2 s."""
SLOW = 30.0
"""Seconds to wait for what takes a resume (backoffs of up to 2 s each) on a loaded machine."""


def start_nodes(confide: Launcher, redis: RedisServer, count: int = 3) -> list[RunningRelay]:
    """``count`` relay nodes on ``redis``, each on its own loopback port."""
    nodes = [
        start_relay(confide, "--redis", redis.url, "--directory-ttl", TTL) for _ in range(count)
    ]
    for node in nodes:  # the first heartbeat reached Redis
        node.proc.expect_err(r" directory node=\S+ state=ok$")
    return nodes


def relays(*nodes: RunningRelay) -> str:
    """The ``--relay`` list of ``nodes``, in order."""
    return ",".join(node.at for node in nodes)


def hosted_on(confide: Launcher, node: RunningRelay, at: str, *args: str) -> RelayHosted:
    """A line-mode host through ``at`` whose room is on ``node`` (its ``relay:`` line says so)."""
    hosted = relay_host(confide, at, "--name", ALICE, *args)
    assert f"relay: {node.at}" in hosted.proc.err_lines, hosted.proc
    return hosted


def said_by(proc: Proc, nick: str) -> list[str]:
    """Every message line ``proc`` printed from ``nick``, in order."""
    pattern = re.compile(rf"^\d\d:\d\d {re.escape(nick)}: (.*)$")
    return [m.group(1) for line in proc.out_lines if (m := pattern.match(line))]


def say_and_see(speaker: Proc, nick: str, text: str, *listeners: Proc) -> None:
    """``speaker`` (``nick``) says ``text``; every listener prints it."""
    speaker.say(text)
    for listener in listeners:
        listener.expect_out(message_line(nick, text), SLOW)


def test_a_room_of_three_across_three_nodes_gets_every_message(
    confide: Launcher, redis_server: RedisServer
) -> None:
    a, b, c = start_nodes(confide, redis_server)
    host = hosted_on(confide, a, a.at, "--max-members", "3")
    bob = relay_join(confide, b.at, host.code, "--name", BOB)
    connected(host.proc, bob)
    carol = relay_join(confide, c.at, host.code, "--name", CAROL)
    host.proc.expect_err(rf"^{CAROL} joined \(3 members\)$")
    carol.expect_err(r"^SAS: ")
    for node in (b, c):
        node.proc.expect_err(rf" redirected node=\S+ to={re.escape(a.at)} ip=127\.0\.0\.1 ")
    say_and_see(host.proc, ALICE, "from the host on A", bob, carol)
    say_and_see(bob, BOB, "from bob through B", host.proc, carol)
    say_and_see(carol, CAROL, "from carol through C", host.proc, bob)
    assert not confide.tracebacks()


def test_a_chat_of_two_whose_joiner_is_redirected(
    confide: Launcher, redis_server: RedisServer
) -> None:
    a, b, c = start_nodes(confide, redis_server)
    host = hosted_on(confide, b, b.at)
    bob = relay_join(confide, relays(c, a), host.code, "--name", BOB)
    connected(host.proc, bob)
    c.proc.expect_err(rf" redirected node=\S+ to={re.escape(b.at)} ip=127\.0\.0\.1 ")
    for n in range(1, 21):
        host.proc.say(f"a{n}")
        bob.say(f"b{n}")
    for n in range(1, 21):
        bob.expect_out(message_line(ALICE, f"a{n}"), SLOW)
        host.proc.expect_out(message_line(BOB, f"b{n}"), SLOW)
    assert " joined " not in a.proc.err  # A was never asked: C answered and sent bob to B


def test_node_a_killed_host_and_joiner_resume_through_b_with_nothing_lost(
    confide: Launcher, redis_server: RedisServer
) -> None:
    a, b, c = start_nodes(confide, redis_server)
    both = relays(a, b)
    host = hosted_on(confide, a, both)
    bob = relay_join(confide, both, host.code, "--name", BOB)
    connected(host.proc, bob)
    say_and_see(host.proc, ALICE, "one", bob)
    a.proc.popen.send_signal(signal.SIGKILL)
    assert a.proc.wait() == -signal.SIGKILL
    bob.expect_err(rf"^lost the connection to {ALICE} \(.*relay at {a.at} went away\); reconn")
    host.proc.say("two")
    bob.say("three")
    bob.expect_out(message_line(ALICE, "two"), SLOW)
    host.proc.expect_out(message_line(BOB, "three"), SLOW)
    b.proc.expect_err(r" met node=\S+ rendezvous=\S+ ip=127\.0\.0\.1")
    say_and_see(host.proc, ALICE, "four", bob)
    assert said_by(bob, ALICE) == ["one", "two", "four"]  # each once, in order
    assert said_by(host.proc, BOB) == ["three"]
    # A's room expired from the directory: the host opened a new one on B, with a new code.
    host.proc.expect_err(
        r"^the relay lost this room \(it restarted\?\); it opened a new one$", SLOW
    )
    new_code = host.proc.expect_err(r"^code: (\S+)$").group(1)
    assert new_code != host.code
    dave = relay_join(confide, c.at, new_code, "--name", DAVE)
    host.proc.expect_err(rf"^{DAVE} joined", SLOW)
    say_and_see(dave, DAVE, "in through C", host.proc)
    assert not confide.tracebacks()


def test_redis_down_keeps_the_chat_refuses_new_rooms_and_recovers(
    confide: Launcher, redis_server: RedisServer
) -> None:
    a, b = start_nodes(confide, redis_server, 2)
    host = hosted_on(confide, a, a.at)
    bob = relay_join(confide, b.at, host.code, "--name", BOB)
    connected(host.proc, bob)
    say_and_see(host.proc, ALICE, "before", bob)

    redis_server.stop()
    for node in (a, b):  # each node noticed (so each says when it is back)
        node.proc.expect_err(r" directory node=\S+ state=down", SLOW)
    say_and_see(host.proc, ALICE, "while redis is down", bob)
    say_and_see(bob, BOB, "still here", host.proc)
    refused = confide.run("host", "--plain", "--relay", a.at, "--name", CAROL)
    assert refused.wait(SLOW) == 4
    assert refused.err_lines[-1] == (
        f"confide: the relay at {a.at} refused: relay directory unavailable; try again"
    )

    redis_server.start()
    for node in (a, b):
        node.proc.expect_err(r" directory node=\S+ state=ok", SLOW)
    again = hosted_on(confide, b, b.at)
    dave = relay_join(confide, a.at, again.code, "--name", DAVE)
    connected(again.proc, dave)
    say_and_see(dave, DAVE, "a new room after redis came back", again.proc)
    say_and_see(bob, BOB, "and the old chat goes on", host.proc)
    assert not confide.tracebacks()
