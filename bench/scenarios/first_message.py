"""Start to first message: from ``confide host`` starting to the joiner printing a line.

What a user waits for when two people start a chat, as real processes:

* ``first message``: spawn ``confide host --bind 127.0.0.1 --port 0
  --plain`` with the line ``first`` already typed into its stdin (line mode
  holds it until the chat opens); as soon as the host prints its ``code:``
  line, spawn ``confide join --at 127.0.0.1:PORT --plain`` with the code in
  ``CONFIDE_CODE``; stop the clock when the joiner's stdout shows the host's
  line. That is two interpreter start-ups one after the other, the host's
  listen, the joiner's connect, the CPace handshake and one message. The
  host is bound to loopback, so it does not advertise on the LAN (a host on
  all interfaces starts zeroconf in the background after its code line).
* ``host: start to code line`` and ``joiner: start to first line`` split it
  in two: the host's part ends when its ``code:`` line is read, the joiner's
  starts when it is spawned.

The baseline is ``python -c pass`` (the same interpreter doing nothing,
spawn to exit), measured in turn with the rest: no Python program can start
faster, and a first message needs at least two start-ups. As in the
``startup`` scenario, confide's modules are compiled to bytecode first, as
an installed copy has them.
"""

from __future__ import annotations

import asyncio
import sys
import time

from bench.core import Config, Figure, Target
from bench.scenarios.startup import TIMEOUT, cache_bytecode, expect, reap, say_bye, spawn, wall

SCENARIO = "first-message"
WARMUP = 1
LINE = "first"
HOST_NICK = "host"


async def _first_message() -> tuple[float, float, float]:
    """One chat started: (total, host to its code line, joiner to its first line) in seconds."""
    procs: list[asyncio.subprocess.Process] = []
    deadline = time.monotonic() + TIMEOUT
    try:
        start = time.perf_counter()
        host = await spawn(
            ["host", "--bind", "127.0.0.1", "--port", "0", "--plain", "--name", HOST_NICK],
            stdout=asyncio.subprocess.PIPE,
        )
        procs.append(host)
        assert host.stdin is not None
        assert host.stderr is not None
        host.stdin.write(f"{LINE}\n".encode())  # typed ahead: sent when the chat opens
        listening, shown = await expect(
            host.stderr, [r"listening on [\d.]+:(\d+)", r"code: (\S+)"], deadline
        )
        coded = time.perf_counter()
        port, code = listening.group(1), shown.group(1)
        join = await spawn(
            ["join", "--at", f"127.0.0.1:{port}", "--plain"], code, stdout=asyncio.subprocess.PIPE
        )
        procs.append(join)
        assert join.stdout is not None
        await expect(join.stdout, [rf" {HOST_NICK}: {LINE}$"], deadline)
        done = time.perf_counter()
        await say_bye(procs)
        return done - start, coded - start, done - coded
    finally:
        await reap(procs)


async def run(cfg: Config) -> list[Figure]:
    """Time a bare interpreter and a chat's first message, in turns."""
    bare = Figure(
        SCENARIO, "python -c pass", "s", "lower", note="the interpreter alone, spawn to exit"
    )
    total = Figure(
        SCENARIO,
        "first message",
        "s",
        "lower",
        baseline="python -c pass",
        target=Target("<=", 0.3),
        note="host spawn to the joiner's stdout line: two start-ups, connect, handshake, a message",
    )
    host = Figure(
        SCENARIO,
        "host: start to code line",
        "s",
        "lower",
        baseline="python -c pass",
        note="host spawn to its code: line on stderr",
    )
    join = Figure(
        SCENARIO,
        "joiner: start to first line",
        "s",
        "lower",
        baseline="python -c pass",
        note="joiner spawn (with the code) to the host's line on its stdout",
    )
    cache_bytecode()
    for _ in range(WARMUP):
        await _first_message()
    for _ in range(cfg.startup_runs):
        bare.samples.append(await wall([sys.executable, "-c", "pass"]))
        whole, to_code, to_line = await _first_message()
        total.samples.append(whole)
        host.samples.append(to_code)
        join.samples.append(to_line)
    return [total, host, join, bare]
