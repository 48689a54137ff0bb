"""A 1:1 ``ChatSession`` seen through the room ``Session`` API the UIs drive.

Both UIs drive an ``app.session_api.Session``: a joiner's session and the
host's ``RoomSession``. A ``ChatSession`` that does not offer the room
commands yet (``who``, ``private``, ``kick``, ``code``, ``mark_verified``)
is wrapped by ``as_session`` in ``OneToOne``, which answers them for a chat
of two: ``/who`` lists the two ends, ``/verify ok`` is remembered here, and
the room-only commands say they need a room. A session that offers them is
used as it is, so this wrapper falls away once every session does.
"""

from __future__ import annotations

from typing import cast

from confide.app.chat import ChatSession
from confide.app.session_api import MemberView, Session
from confide.errors import UsageError


class OneToOne:
    """The ``Session`` API over a ``ChatSession`` of two people."""

    is_host = False

    def __init__(self, chat: ChatSession) -> None:
        """Wrap ``chat``; the peer is not marked verified yet."""
        self.chat = chat
        self._verified = False

    @property
    def nick(self) -> str:
        """Our nick."""
        return self.chat.nick

    @property
    def peer_nick(self) -> str:
        """The peer's nick as shown."""
        return self.chat.peer_nick

    @property
    def sas(self) -> tuple[str, ...]:
        """The SAS of this chat."""
        return self.chat.sas

    @property
    def typing_enabled(self) -> bool:
        """Whether we take part in typing indicators."""
        return self.chat.typing_enabled

    @typing_enabled.setter
    def typing_enabled(self, on: bool) -> None:
        self.chat.typing_enabled = on

    def say(self, text: str) -> int:
        """Send a chat line; its id."""
        return self.chat.say(text)

    def act(self, text: str) -> int:
        """Send an action; its id."""
        return self.chat.act(text)

    def private(self, nick: str, text: str) -> int:
        """A chat of two has no one to whisper to: ``UsageError``."""
        raise UsageError("private messages need a room; here everything goes to the peer")

    def rename(self, nick: str) -> str:
        """Change our nick."""
        return self.chat.rename(nick)

    def typing(self, on: bool) -> None:
        """We started or stopped typing."""
        self.chat.typing(on)

    def kick(self, nick: str) -> None:
        """Only a room's host can kick: ``UsageError``."""
        raise UsageError("only the host can /kick")

    def who(self) -> list[MemberView]:
        """Us and the peer, with the SAS and whether we marked it verified."""
        return [
            MemberView(self.nick, is_host=False, is_you=True),
            MemberView(self.peer_nick, False, False, self.sas, self._verified),
        ]

    def code(self) -> str | None:
        """Only a room's host has the code: ``UsageError``."""
        raise UsageError("only the host has the code")

    def mark_verified(self, nick: str | None, ok: bool) -> None:
        """Remember whether the user compared the SAS with the peer."""
        self._verified = ok

    async def run(self) -> int:
        """Run the chat; its exit code."""
        return await self.chat.run()

    async def leave(self, reason: str = "bye") -> None:
        """Say goodbye and close."""
        await self.chat.leave(reason)

    async def drain(self) -> None:
        """Wait for queued messages to reach the kernel."""
        await self.chat.drain()

    async def abort(self) -> None:
        """Close now."""
        await self.chat.abort()


def as_session(session: Session | ChatSession) -> Session:
    """``session`` as the ``Session`` API: wrapped if it lacks the room commands."""
    if isinstance(session, ChatSession) and not hasattr(session, "who"):
        return OneToOne(session)
    return cast("Session", session)
