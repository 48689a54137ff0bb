"""Start-up: how long a user waits for ``confide`` itself.

* ``confide --help``: wall time of the installed command as a subprocess,
  from spawn to exit (imports, argument parsing, help text). The baseline is
  the same interpreter doing nothing (``python -c pass``), which no Python
  program can beat.
* ``ready line-mode client``: spawn ``confide host --plain`` on a free
  loopback port, wait for its code, spawn ``confide join --plain`` with the
  code in ``CONFIDE_CODE``, and stop the clock when both print their ``SAS:``
  line (both ready to chat). Both processes are then told ``bye`` and reaped.

Before it measures, the scenario compiles confide's modules to bytecode
(``cache_bytecode``), as installing confide does: a checkout run with
``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile every module from
source in every process, which no installed copy does. Its helpers for
running ``confide`` processes (``spawn``, ``expect``, ``wall``, ``say_bye``,
``reap``) serve the ``first-message`` scenario too.
"""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import os
import re
import sys
import time
from pathlib import Path

import confide
from bench.core import Config, Figure, Target
from bench.relay import confide_command

SCENARIO = "startup"
TIMEOUT = 20.0
WARMUP = 1


def cache_bytecode() -> None:
    """Compile confide's modules to ``__pycache__``, as ``pip install`` does (quietly)."""
    with contextlib.suppress(OSError):
        compileall.compile_dir(Path(confide.__file__).parent, quiet=2)


async def wall(argv: list[str]) -> float:
    """Seconds from spawning ``argv`` to its exit (an error if it fails)."""
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        code = await asyncio.wait_for(proc.wait(), TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if code != 0:
        raise RuntimeError(f"{argv[-1]} exited with {code}")
    return time.perf_counter() - start


async def expect(
    stream: asyncio.StreamReader, patterns: list[str], deadline: float
) -> list[re.Match[str]]:
    """Read lines until each pattern has matched one (in any order); the matches."""
    regexes = [re.compile(p) for p in patterns]
    found: list[re.Match[str] | None] = [None] * len(regexes)
    while not all(found):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no line matching {patterns!r}")
        line = (await asyncio.wait_for(stream.readline(), left)).decode("utf-8", "replace")
        if not line:
            raise RuntimeError(f"process ended before printing {patterns!r}")
        for i, regex in enumerate(regexes):
            if found[i] is None:
                found[i] = regex.search(line)
    return [f for f in found if f is not None]


def env(code: str = "") -> dict[str, str]:
    """This environment without ``CONFIDE_*`` (with ``code`` in ``CONFIDE_CODE``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    if code:
        env["CONFIDE_CODE"] = code
    return env


async def spawn(
    args: list[str], code: str = "", *, stdout: int = asyncio.subprocess.DEVNULL
) -> asyncio.subprocess.Process:
    """Start ``confide ARGS`` with pipes on stdin and stderr (the code in ``CONFIDE_CODE``)."""
    return await asyncio.create_subprocess_exec(
        *confide_command(),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
        env=env(code),
    )


async def _ready_client() -> float:
    procs: list[asyncio.subprocess.Process] = []
    deadline = time.monotonic() + TIMEOUT
    try:
        start = time.perf_counter()
        host = await spawn(["host", "--bind", "127.0.0.1", "--port", "0", "--plain"])
        procs.append(host)
        assert host.stderr is not None
        listening, shown = await expect(
            host.stderr, [r"listening on [\d.]+:(\d+)", r"code: (\S+)"], deadline
        )
        port, code = listening.group(1), shown.group(1)
        join = await spawn(["join", "--at", f"127.0.0.1:{port}", "--plain"], code)
        procs.append(join)
        assert join.stderr is not None
        await asyncio.gather(
            expect(host.stderr, [r"^SAS: "], deadline), expect(join.stderr, [r"^SAS: "], deadline)
        )
        elapsed = time.perf_counter() - start
        await say_bye(procs)
        return elapsed
    finally:
        await reap(procs)


async def say_bye(procs: list[asyncio.subprocess.Process]) -> None:
    """Type ``bye`` into each process (line mode leaves the chat on it)."""
    for proc in procs:
        assert proc.stdin is not None
        with contextlib.suppress(Exception):
            proc.stdin.write(b"bye\n")
            await proc.stdin.drain()


async def reap(procs: list[asyncio.subprocess.Process]) -> None:
    """Wait a moment for each process to end, then kill what is left."""
    for proc in procs:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 3)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def run(cfg: Config) -> list[Figure]:
    """Time ``--help``, a bare interpreter, and two clients to ready, interleaved."""
    help_fig = Figure(
        SCENARIO,
        "confide --help",
        "s",
        "lower",
        baseline="python -c pass",
        target=Target("<", 0.25),
        note="subprocess wall time, spawn to exit",
    )
    bare = Figure(
        SCENARIO, "python -c pass", "s", "lower", note="the interpreter alone, spawn to exit"
    )
    ready = Figure(
        SCENARIO,
        "ready line-mode client",
        "s",
        "lower",
        baseline="python -c pass",
        note="spawn host, then join, until both print SAS",
    )
    cache_bytecode()
    for _ in range(WARMUP):
        await wall([*confide_command(), "--help"])
    for _ in range(cfg.startup_runs):
        help_fig.samples.append(await wall([*confide_command(), "--help"]))
        bare.samples.append(await wall([sys.executable, "-c", "pass"]))
        ready.samples.append(await _ready_client())
    return [help_fig, bare, ready]
