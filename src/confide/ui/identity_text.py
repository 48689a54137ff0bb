"""What both interfaces say about a peer's identity key (``app.events.PeerIdentity``).

Line mode prints these lines on stderr (a warning's lines start with
``warning:``), the full-screen UI shows them as system lines (a warning's
in the error style) and the status bar's badge (``badge``). Worded here
once:

* a verified contact under the nick it verified (``KNOWN``): nothing to
  compare, and the bar says ``✔ bob (known)``;
* a key never verified (``NEW``): compare the SAS, then ``/verify ok``;
* a verified key under another nick (``RENAMED``): who it was verified as;
* a verified nick with another key (``CHANGED``): the loud warning, in the
  manner of SSH's "REMOTE HOST IDENTIFICATION HAS CHANGED", and the bar
  says ``KEY CHANGED`` in red;
* an older confide that proves no key (``NO_IDENTITY``): compare the SAS.

A room member's key passed on by the host (``via_host``) is told only when
it means something: known, renamed, or changed (the host vouches for it; we
share no SAS with that member). Nicks come from the network: the interface
makes them inert (``confide.text.sanitize``) when it shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from confide.app.contacts import CHANGED, KNOWN, NEW, NO_IDENTITY, RENAMED
from confide.app.events import PeerIdentity

WARNING = "warning: "
"""How line mode starts each line of a warning."""


@dataclass(frozen=True, slots=True)
class Told:
    """The lines an identity gives; ``warning``: said loudly (stderr ``warning:``, red)."""

    lines: tuple[str, ...] = ()
    warning: bool = False


def known_line(nick: str) -> str:
    """What replaces "compare the SAS" for a verified contact."""
    return f"{nick} is a verified contact: nothing to compare"


def told(event: PeerIdentity, *, named: bool = False, chat: bool = True) -> Told:
    """The lines to show for ``event`` (none for what needs no word).

    ``named``: one of several members with a SAS of its own (the host's
    room), so ``/verify`` must name it. Not ``chat`` (``confide send`` and
    ``receive``): there is no SAS to compare, so a changed key says to check
    in a chat.
    """
    nick, found = event.nick, event.recognition
    verify = f"/verify {nick} ok" if named else "/verify ok"
    if event.via_host:
        return _via_host(nick, found.kind, found.verified_nick, found.fingerprint)
    if found.kind == KNOWN:
        return Told((known_line(nick),))
    if found.kind == NEW:
        if named:
            return Told(
                (f"{nick} is a new contact: compare the SAS (/verify {nick}), then {verify}",)
            )
        return Told(("new contact: compare the SAS, then /verify ok",))
    if found.kind == RENAMED:
        return Told((renamed_line(found.verified_nick, nick),))
    if found.kind == CHANGED:
        lines = changed_lines(nick, found.fingerprint, verify)
        if not chat:
            check = f"To check: chat with {nick} (confide host, confide join) and compare the SAS."
            lines = (*lines[:3], check, lines[4])
        return Told(lines, warning=True)
    if found.kind == NO_IDENTITY:
        return Told((f"{nick}'s confide proves no identity (an older version): compare the SAS",))
    return Told()


def renamed_line(verified_nick: str, nick: str) -> str:
    """A verified key that now goes by another nick."""
    return f"this is {verified_nick} (verified), now calling themselves {nick}"


def changed_lines(nick: str, fingerprint: str, verify: str = "/verify ok") -> tuple[str, ...]:
    """The loud warning: a verified contact's nick with a key that is not the one verified."""
    return (
        f"@@@ {nick.upper()}'S IDENTITY KEY HAS CHANGED @@@",
        f"{nick} is a verified contact, but this is not the key you verified.",
        "It may be a new device or a reinstalled confide; or someone in the middle "
        "who knows the code.",
        f"To check: compare the SAS with {nick} out loud (/verify), then {verify} if it matches.",
        f"Until then nothing marks {nick} as verified. Their key now: {fingerprint}",
    )


def _via_host(nick: str, kind: str, verified_nick: str, fingerprint: str) -> Told:
    """A member's key the host passed on: told when it is known, renamed or changed."""
    if kind == KNOWN:
        return Told((f"{nick} is a verified contact (their key came through the host)",))
    if kind == RENAMED:
        return Told((renamed_line(verified_nick, nick) + " (their key came through the host)",))
    if kind == CHANGED:
        return Told(
            (
                f"{nick}'s identity key has changed: it is not the key you verified.",
                "It may be a new device or a reinstalled confide; or the host, or someone "
                "in the middle, passed on another key.",
                f"Ask {nick} to compare their fingerprint (/whoami) with this one: {fingerprint}",
            ),
            warning=True,
        )
    return Told()


def badge(event: PeerIdentity) -> str:
    """The status bar's word on the peer's key: ``known``, ``changed`` or ``""`` (the SAS)."""
    kind = event.recognition.kind
    if event.via_host or kind in (NEW, NO_IDENTITY):
        return ""
    return CHANGED if kind == CHANGED else KNOWN


def whoami_lines(fingerprint: str) -> tuple[str, ...]:
    """``/whoami``: our fingerprint, to compare by eye or read aloud."""
    if not fingerprint:
        return ("this chat proves no identity",)
    return (f"your fingerprint: {fingerprint}", "(confide id prints it too)")


def view_identity(fingerprint: str, known: bool | None) -> str:
    """What ``/who`` says of a member's key: its fingerprint, and whether you verified it."""
    if not fingerprint:
        return ""
    check = "verified by you" if known else "not verified by you"
    return f"key {fingerprint} ({check})"
