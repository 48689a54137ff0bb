"""Loopback endpoints: confide hosts and joiners, and the far-end peer process.

Everything here listens and connects on 127.0.0.1 only, through confide's own
``tcp.listen``/``Host``/``tcp.connect`` (and ``relay_client``), so the bench
measures the code users run. ``PeerProcess`` drives ``python -m bench.peer``,
the far end of the chat and bulk scenarios; ``peer_stream`` and
``peer_channel`` connect to what it serves. ``resumable`` wraps a version-2
session in a ``ResumableLink`` the way ``app/run.py`` does.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import cpus
from confide.app.resumable import Leg, Redial, ResumableLink
from confide.app.room_policy import RoomPolicy
from confide.app.secret import Secret
from confide.net import tcp
from confide.net.host import Established, Host
from confide.net.resumes import ResumeBook
from confide.protocol import codes
from confide.protocol import messages as m

LOOPBACK = "127.0.0.1"
SETUP_TIMEOUT = 10.0
RESUMABLE = 2
"""The protocol version from which a session resumes (``app.run.RESUMABLE``)."""
RESUME_WINDOW = 60.0
"""Seconds a bench link waits for a new leg after a loss (the product's default is 300)."""
HOST_IDENTITY = Ed25519PrivateKey.generate()
JOINER_IDENTITY = Ed25519PrivateKey.generate()
"""Each side's identity key, loaded once before anything is timed, as ``app/run.py`` does."""


def nonce(direction: int, seq: int) -> bytes:
    """A ChaCha20-Poly1305 nonce: the direction (0 from the bench, 1 back), then a counter."""
    return bytes((direction,)) + seq.to_bytes(11, "big")


def new_secret() -> Secret:
    """A freshly generated code, as ``confide host`` makes one."""
    code = codes.generate(codes.new_nameplate(secrets.randbelow), 3, secrets.randbelow)
    return Secret(code=code, words=3)


async def listening_host(
    secret: Secret, resumes: ResumeBook | None = None
) -> tuple[Host, asyncio.Server, int]:
    """A confide ``Host`` listening on a free loopback port (with ``resumes``, its ticket book)."""
    policy = RoomPolicy(secret)
    host = Host(
        policy,
        lambda _s: None,
        lambda _c: None,
        handshake_timeout=SETUP_TIMEOUT,
        resumes=resumes,
        identity=HOST_IDENTITY,
    )
    server = await tcp.listen(host, LOOPBACK, 0)
    return host, server, server.sockets[0].getsockname()[1]


async def join(host: Host, port: int, secret: Secret) -> tuple[Established, Established]:
    """Join ``host`` as ``confide join`` does; return (joiner's, host's) ``Established``.

    The joiner sends its nick at once, as a ``ChatSession`` does, because a
    host hands a channel on only after the joiner's first message.
    """
    joined = await tcp.connect(
        LOOPBACK, port, secret.value, secret.room, timeout=SETUP_TIMEOUT, identity=JOINER_IDENTITY
    )
    joined.channel.send(m.Nick("bench"))
    await joined.channel.drain()
    async with asyncio.timeout(SETUP_TIMEOUT):  # no task of its own, unlike wait_for
        hosted = await tcp.wait_for_joiner(host)
    return joined, hosted


def resumable(session: Established, redial: Redial | None = None) -> ResumableLink:
    """Wrap a confirmed session in a ``ResumableLink``, as ``app/run.py`` does for version 2.

    The joiner passes its ``redial``; a host passes none and adopts new legs
    from its ``ResumeBook`` (``register``, as ``app.run._Room._member`` does).
    """
    if session.done.version < RESUMABLE:
        raise RuntimeError(f"the session is version {session.done.version}: it can't resume")
    leg = Leg(session.channel, session.channel.conn.resume_key)
    return ResumableLink(leg, redial=redial, window=RESUME_WINDOW)


ROOT = Path(__file__).resolve().parents[1]
PEER_TIMEOUT = 60.0


class LineProcess:
    """A helper process of the bench (``python -m MODULE``), driven over its stdin and stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        """Wrap a started process; use ``start``."""
        self.proc = proc

    @classmethod
    async def spawn(cls, module: str) -> asyncio.subprocess.Process:
        """Start ``python -m module`` with pipes on stdin and stdout."""
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )

    async def stop(self) -> None:
        """End the process (closing its stdin), killing it if it lingers."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class PeerProcess(LineProcess):
    """The far end, ``python -m bench.peer``, driven one JSON line at a time."""

    @classmethod
    async def start(cls) -> PeerProcess:
        """Start a peer process, pinned to the other CPU."""
        proc = await cls.spawn("bench.peer")
        cpus.far(proc.pid)
        return cls(proc)

    async def _line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), PEER_TIMEOUT)
        if not line:
            raise RuntimeError(f"the bench peer exited ({self.proc.returncode})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"bench peer: {answer['error']}")
        return answer

    async def command(self, **cmd: object) -> dict[str, Any]:
        """Send one command; its answer (where to connect)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        await self.proc.stdin.drain()
        return await self._line()

    async def done(self) -> None:
        """Wait until the peer has finished serving the last connection."""
        answer = await self._line()
        if not answer.get("done"):
            raise RuntimeError(f"bench peer said {answer!r}")


async def peer_stream(
    peer: PeerProcess, kind: str, mode: str, via: int = 0, **cmd: object
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """Connect to a bare (``tcp``) or sealed (``aead``) peer; (reader, writer, key).

    With ``via``, connect through the bare forwarder listening on that port.
    """
    answer = await peer.command(kind=kind, mode=mode, **cmd)
    port = int(answer["port"])
    reader, writer = await asyncio.open_connection(LOOPBACK, via or port)
    if via:
        writer.write(port.to_bytes(2, "big"))
    return reader, writer, bytes.fromhex(answer["key"])


async def peer_channel(
    peer: PeerProcess, mode: str, relay_port: int = 0, *, nick: bool = True, **cmd: object
) -> Established:
    """Join a confide peer, directly or through the relay; the joiner's ``Established``.

    With ``nick`` the joiner sends its nick at once (the host hands a channel on
    only after the joiner's first message); a ``ChatSession`` does that itself.
    """
    answer = await peer.command(kind="confide", mode=mode, relay=relay_port, **cmd)
    secret, room = bytes.fromhex(answer["secret"]), str(answer["room"])
    if relay_port:
        from confide.net import relay_client

        joined = await relay_client.connect(
            (LOOPBACK, relay_port), secret, room, timeout=SETUP_TIMEOUT
        )
    else:
        joined = await tcp.connect(
            LOOPBACK, int(answer["port"]), secret, room, timeout=SETUP_TIMEOUT
        )
    if nick:
        joined.channel.send(m.Nick("bench"))
        await joined.channel.drain()
    return joined
