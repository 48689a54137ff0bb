"""What a line typed into either interface means: a message, or one of the commands.

Both interfaces (the full-screen app in ``ui.tui`` and line mode in
``ui.line``) read what is typed through this one parser; it imports neither
Textual nor anything of the network. ``parse`` turns the text into a
``Command``. A line starting with ``/`` is a command; ``//`` sends a line
that starts with a single ``/``. ``bye`` on its own leaves: in the
full-screen input in any case and with spaces around it, in line mode only
the exact lower-case line (``exact_bye``), so ``Bye`` in a script is a
message. An unknown command, or a command used wrongly, becomes ``Invalid``:
the interface shows its ``reason`` and sends nothing.

Each interface then runs the ``Command`` it got. Commands that only change
what the screen shows (``VISUAL``: ``/find``, ``/copy``, ``/clear``) have
nothing to act on in line mode, which says so (``visual_only``). Files:
``/send [NICK] PATH`` (``Send``), ``/accept``, ``/decline``, ``/cancel``
(``FileReply``, each with an optional name). What the
other commands answer is worded here once, for both (``verify_hint``...).
"""

from __future__ import annotations

from dataclasses import dataclass

COMMANDS: dict[str, tuple[str, str]] = {
    "/help": ("", "show this help"),
    "/me": ("ACTION", "send an action, shown as * you ACTION"),
    "/nick": ("NEW", "change your nickname"),
    "/who": ("", "who is in this chat, whose SAS you compared, and their identity keys"),
    "/whoami": ("", "your identity's fingerprint (others compare it with theirs)"),
    "/msg": ("NICK TEXT", "a private message to NICK only (the host passes it on)"),
    "/verify": (
        "[NICK] [ok|forget]",
        "show the SAS and how to compare it; ok marks it verified, forget unmarks it",
    ),
    "/send": ("[NICK] PATH", "offer a file or folder (in a room: to everyone, or to NICK)"),
    "/accept": ("[NAME]", "save the file offered to you (y on an empty input line does too)"),
    "/decline": ("[NAME]", "refuse the file offered to you"),
    "/cancel": ("[NAME]", "stop a file transfer, yours or theirs (a .part is kept)"),
    "/kick": ("NICK", "host only: remove NICK from the room"),
    "/code": ("", "host only: the code that invites more people"),
    "/find": ("TEXT", "jump to the previous line holding TEXT (Ctrl-F: the one before)"),
    "/copy": ("[N]", "copy the last N messages (default 1) to the clipboard (OSC 52)"),
    "/clear": ("", "clear the screen's scrollback"),
    "/quit": ("", "leave the chat (so does bye)"),
}

VISUAL = frozenset({"/find", "/copy", "/clear"})
"""Commands that only change the screen: the full-screen UI has them, line mode not."""

KEYS_HELP = (
    "Enter sends · Shift+Enter or Ctrl+J: new line · Up/Down: earlier input",
    "Tab completes commands and nicks · PgUp/PgDn scroll · Ctrl-C or Ctrl-D leaves",
    "Copy: /copy, or Shift+drag to select with the terminal · Ctrl-F: find again",
)


@dataclass(frozen=True, slots=True)
class Command:
    """Base of everything ``parse`` returns."""


@dataclass(frozen=True, slots=True)
class Say(Command):
    """Send ``text`` as a chat message."""

    text: str


@dataclass(frozen=True, slots=True)
class Me(Command):
    """Send ``text`` as an action."""

    text: str


@dataclass(frozen=True, slots=True)
class Nick(Command):
    """Change our nick."""

    nick: str


@dataclass(frozen=True, slots=True)
class Find(Command):
    """``/find TEXT``: jump to the previous line holding ``text``."""

    text: str


@dataclass(frozen=True, slots=True)
class Copy(Command):
    """``/copy [N]``: copy the last ``count`` messages."""

    count: int


@dataclass(frozen=True, slots=True)
class Verify(Command):
    """Show the SAS with ``nick`` (None: the host, or the only member), or mark it.

    ``ok`` marks it verified, ``forget`` unmarks it; neither shows it.
    """

    ok: bool
    nick: str | None = None
    forget: bool = False


@dataclass(frozen=True, slots=True)
class Msg(Command):
    """``/msg NICK TEXT``: ``text`` for ``nick`` only."""

    nick: str
    text: str


@dataclass(frozen=True, slots=True)
class Kick(Command):
    """``/kick NICK`` (the host only)."""

    nick: str


@dataclass(frozen=True, slots=True)
class Send(Command):
    """``/send [NICK] PATH``: ``arg`` is the rest of the line.

    Whether its first word is a member's nick only the session knows
    (``ui.transfer_text.send``), so a path may hold spaces.
    """

    arg: str


@dataclass(frozen=True, slots=True)
class FileReply(Command):
    """``/accept``, ``/decline`` or ``/cancel`` (``verb``), of ``name`` (None: the only one)."""

    verb: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Simple(Command):
    """A command without arguments: ``help``, ``who``, ``whoami``, ``clear`` or ``quit``."""

    name: str


@dataclass(frozen=True, slots=True)
class Invalid(Command):
    """Not a valid command; ``reason`` says why. Nothing is sent."""

    reason: str


@dataclass(frozen=True, slots=True)
class Empty(Command):
    """Only whitespace: nothing to do."""


def parse(line: str, *, exact_bye: bool = False) -> Command:
    """What ``line`` (the whole input, possibly several lines) asks for.

    ``bye`` leaves whatever its case and surrounding spaces, or, with
    ``exact_bye`` (line mode), only as exactly ``bye``.
    """
    if not line.strip():
        return Empty()
    if line == "bye" if exact_bye else line.strip().lower() == "bye":
        return Simple("quit")
    if line.startswith("//"):
        return Say(line[1:])
    if not line.startswith("/"):
        return Say(line)
    name, _, rest = line.partition(" ")
    name = name.lower()
    arg = rest.strip()
    if name not in COMMANDS:
        return Invalid(f"unknown command {name} (try /help); nothing was sent")
    if name == "/me":
        return Me(arg) if arg else Invalid("usage: /me ACTION")
    if name == "/nick":
        return Nick(arg) if arg else Invalid("usage: /nick NEW")
    if name == "/find":
        return Find(arg) if arg else Invalid("usage: /find TEXT")
    if name == "/copy":
        if arg == "":
            return Copy(1)
        return Copy(int(arg)) if arg.isdigit() and int(arg) > 0 else Invalid("usage: /copy [N]")
    if name == "/verify":
        return _verify(arg)
    if name == "/msg":
        nick, _, text = arg.partition(" ")
        return Msg(nick, text.strip()) if text.strip() else Invalid("usage: /msg NICK TEXT")
    if name == "/kick":
        return Kick(arg) if arg and " " not in arg else Invalid("usage: /kick NICK")
    if name == "/send":
        return Send(arg) if arg else Invalid("usage: /send PATH, or /send NICK PATH in a room")
    if name in ("/accept", "/decline", "/cancel"):
        return FileReply(name[1:], arg or None)
    if arg:
        return Invalid(f"{name} takes no arguments")
    return Simple(name[1:])


def _verify(arg: str) -> Command:
    """``/verify [NICK] [ok|forget]``."""
    words = arg.split()
    what = words[-1].lower() if words else ""
    mark = what in ("ok", "forget")
    if mark:
        words = words[:-1]
    if len(words) > 1:
        return Invalid("usage: /verify [NICK] [ok|forget], e.g. /verify bob ok once it matched")
    return Verify(ok=what == "ok", nick=words[0] if words else None, forget=what == "forget")


def help_lines(*, full_screen: bool = True) -> list[str]:
    """The lines ``/help`` shows: every command and the keys, or (line mode) what it has."""
    shown = {n: u for n, u in COMMANDS.items() if full_screen or n not in VISUAL}
    width = max(len(f"{name} {args}".strip()) for name, (args, _) in shown.items())
    lines = []
    for name, (args, what) in shown.items():
        usage = f"{name} {args}".strip()
        lines.append(f"{usage:<{width}}  {what}")
    return [*lines, *KEYS_HELP] if full_screen else lines


def sas_check(verified: bool) -> str:
    """How ``/who`` describes the peer: verified, or not compared yet."""
    return "verified" if verified else "SAS not compared yet (/verify)"


def verify_hint(peer: str, *, named: bool = False) -> str:
    """What ``/verify`` says after the SAS: how to compare it, and what then.

    ``named``: the member was named (``/verify bob``), so is the ``ok`` after it.
    """
    ok = f"/verify {peer} ok" if named else "/verify ok"
    return (
        f"read these words aloud with {peer} by voice or in person, not in this chat. "
        f"If they match, type {ok}. If not, someone is in the middle: leave (/quit)."
    )


def verified_text(peer: str, *, lasting: bool = False) -> str:
    """What ``/verify ok`` answers; ``lasting``: the peer's key is now a verified contact."""
    if lasting:
        return f"you marked {peer} verified: their key is a verified contact, in later chats too"
    return f"you marked {peer} verified for this session"


def visual_only(name: str) -> str:
    """What line mode says to a ``VISUAL`` command such as ``/clear``."""
    return f"{name} only works in the full-screen interface; nothing was sent"
