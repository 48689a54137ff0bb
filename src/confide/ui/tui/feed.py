"""The log as the user reads it: what the chat says, in order, with dates, find and copy.

``LogFeed`` turns app events into entries of the ``ChatLog`` widget (which
lays them out and scrolls; ``render`` finds and draws the links): messages
with their time and mentions, our own lines, private messages (marked ``→``,
in the private style), receipts, and dim system lines (errors too). In a
room of more than two, ``Delivered`` (the host has it) keeps our line at
``✓`` and ``DeliveredAll`` (every member present has it) makes it ``✓✓``; in
a room of two ``Delivered`` is ``✓✓``, as in a 1:1 chat. ``MembersChanged``
tells the nick colours who is present, so no two present members share a
colour while the palette has room. The first line of a new day gets a date
line before it. A message naming us rings the bell and, if asked for and the
terminal is not focused, sends a desktop notification. ``/find`` and Ctrl-F
jump between lines holding a text; ``/copy`` puts the last messages on the
clipboard; lines printed while the screen is up become system lines; the
unread bar shows how many lines wait below the view.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from textual.app import App

from confide.app.contacts import KNOWN
from confide.app.days import day_change
from confide.app.events import (
    AppEvent,
    Connected,
    Delivered,
    DeliveredAll,
    Disconnected,
    MemberJoined,
    MembersChanged,
    MessageIn,
    NotPostQuantum,
    PeerBack,
    PeerIdentity,
    PeerLeft,
    PeerNick,
    PrivateIn,
)
from confide.text import sanitize
from confide.ui import identity_text, pq_text
from confide.ui.texts import disconnect_reason
from confide.ui.tui.log import ChatLog
from confide.ui.tui.render import Entry, Kind, mentions
from confide.ui.tui.settings import TuiSettings
from confide.ui.tui.state import ChatState, screen_gone
from confide.ui.tui.widgets import UnreadBar

NOTIFY_MAX = 200  # characters of a notification
SAID = (Kind.OWN, Kind.PEER, Kind.OWN_ACTION, Kind.PEER_ACTION)  # what /copy copies


class LogFeed:
    """Everything that goes into the log, and finding and copying what is in it."""

    def __init__(
        self,
        app: App[int],
        settings: TuiSettings,
        chat: ChatState,
        write_terminal: Callable[[str], None],
    ) -> None:
        """The feed of ``app``'s log; ``write_terminal`` sends escape sequences as they are."""
        self._app = app
        self._settings = settings
        self._chat = chat
        self._write_terminal = write_terminal
        self.bells = 0  # how many times the bell rang (mentions)
        self.notifications: list[str] = []  # the desktop notifications sent
        self._day: date | None = None  # the date of the last line (a new day gets a date line)
        self._find: tuple[str, Entry | None] = ("", None)  # the last /find and its hit
        self._print_buffer = ""
        self._identities: dict[str, PeerIdentity] = {}  # told once the peer is announced

    @property
    def log(self) -> ChatLog:
        """The scrollback widget."""
        return self._app.query_one(ChatLog)

    def _stamp(self) -> str:
        """The time for a new line; first a date line if the date changed since the last line."""
        now = self._settings.clock()
        new_day = day_change(self._day, now)
        if new_day is not None:
            self.log.add(Entry(Kind.SYSTEM, "", "", new_day))
        self._day = now.date()
        return now.strftime("%H:%M")

    def system(self, text: str, *, error: bool = False) -> None:
        """Add a system line (dim; errors too) to the log."""
        kind = Kind.ERROR if error else Kind.SYSTEM
        self.log.add(Entry(kind, self._stamp(), "", sanitize(text, keep_newlines=True)))

    def told(self, text: str, event: AppEvent) -> None:
        """A room event told as a system line; a peer back also settles the lines that waited."""
        self.system(text)
        if isinstance(event, PeerBack):
            self.log.mark_sent()

    def own(self, nick: str, text: str, mid: int, *, action: bool) -> None:
        """Add a line we sent (its receipt comes later as ``Delivered``)."""
        kind = Kind.OWN_ACTION if action else Kind.OWN
        clean = sanitize(text, keep_newlines=True)
        crowd = self._chat.room.crowded
        entry = Entry(kind, self._stamp(), sanitize(nick), clean, id=mid, crowd=crowd)
        entry.pending = self._chat.away
        self.log.add(entry)

    def private_out(self, nick: str, to: str, text: str, mid: int) -> None:
        """Add a private message we sent to ``to``: ``→ bob: text``, in the private style."""
        clean = f"\u2192 {sanitize(to)}: " + sanitize(text, keep_newlines=True)
        crowd = self._chat.room.crowded
        entry = Entry(Kind.OWN, self._stamp(), sanitize(nick), clean, id=mid, crowd=crowd)
        entry.private = True
        entry.pending = self._chat.away
        self.log.add(entry)

    def on_event(self, event: AppEvent) -> None:
        """Put what ``event`` says into the log."""
        match event:
            case PeerIdentity(via_host=True):
                self.identity(event)
            case PeerIdentity(nick=nick):  # just before the peer is announced: told after it
                self._identities[nick] = event
            case NotPostQuantum(nick=nick):  # just before the peer is announced
                self._chat.classical.add(nick)
            case Connected(peer=peer, sas=sas):
                classical = f", {pq_text.NOT_PQ} (an older confide)"
                if peer not in self._chat.classical:
                    classical = ""
                self.system(f"connected to {peer}: end-to-end encrypted{classical}")
                known = self._identities.pop(peer, None)
                if known is not None and known.recognition.kind == KNOWN:
                    self.system(identity_text.known_line(peer))
                    return
                self.system(f"compare the SAS with {peer} out loud: {' '.join(sas)} (/verify)")
                if known is not None:
                    self.identity(known)
            case MessageIn(nick=nick, text=text, action=action):
                session = self._chat.session
                mention = mentions(text, session.nick if session else "")
                kind = Kind.PEER_ACTION if action else Kind.PEER
                clean = sanitize(text, keep_newlines=True)
                self.log.add(Entry(kind, self._stamp(), sanitize(nick), clean, mention=mention))
                if mention:
                    self.ring()
                    self.notify_mention(nick, text)
            case PrivateIn(nick=nick, text=text):
                clean = "\u2192 you: " + sanitize(text, keep_newlines=True)
                entry = Entry(Kind.PEER, self._stamp(), sanitize(nick), clean, private=True)
                self.log.add(entry)
                self.ring()
                self.notify_mention(nick, text)
            case Delivered(id=mid):
                self.log.mark_delivered(mid, everyone=False)
            case DeliveredAll(id=mid):
                self.log.mark_delivered(mid, everyone=True)
            case MembersChanged(nicks=nicks):
                self.log.log_styles.present(nicks)
            case PeerNick(old=old, new=new):
                self.system(f"{old} is now {new}")
            case PeerLeft(nick=nick, reason=reason):
                why = f" ({reason})" if reason and reason != "bye" else ""
                self.system(f"{nick} left{why}")
            case Disconnected(reason=reason, error=error):
                self.system(disconnect_reason(reason, error), error=True)

    def identity(self, event: PeerIdentity, *, named: bool = False) -> None:
        """What the contacts say of a peer's key: system lines, a warning's in the error style.

        ``named``: a member who joined a room of more than two (``/verify NICK``).
        """
        told = identity_text.told(event, named=named)
        for line in told.lines:
            self.system(line, error=told.warning)

    def after(self, event: AppEvent) -> None:
        """After a member's ``joined`` line: what the contacts say of its key."""
        if isinstance(event, MemberJoined):
            if event.nick in self._chat.classical:
                self.system(pq_text.member_line(event.nick))
            waiting = self._identities.pop(event.nick, None)
            if waiting is not None:
                self.identity(waiting, named=True)

    def ring(self) -> None:
        """Ring the terminal bell (a mention), unless the bell is off."""
        if self._settings.bell:
            self.bells += 1
            self._app.bell()

    def notify_mention(self, nick: str, text: str) -> None:
        """A desktop notification through the terminal, if asked for and we are not focused.

        OSC 777 (urxvt, foot, kitty, VTE terminals...) and OSC 9 (iTerm2, Windows
        Terminal, kitty...): a terminal that knows neither ignores both. The
        message text is in it only with ``notify_text``; never any control character.
        """
        if not self._settings.notify or self._app.app_focus:
            return
        body = f"{nick}: {text}" if self._settings.notify_text else f"{nick} mentioned you"
        body = sanitize(body).replace(";", ",")[:NOTIFY_MAX]
        self.notifications.append(body)
        self._write_terminal(f"\x1b]777;notify;confide;{body}\x07\x1b]9;{body}\x07")

    def find(self, text: str) -> None:
        """``/find TEXT``: jump to the latest line holding ``text``."""
        self._find = (text, None)
        self.find_again()

    def find_again(self) -> bool:
        """Jump to the line before the last one found; False if nothing was searched yet."""
        text, before = self._find
        if not text:
            return False
        hit = self.log.find(text, before)
        if hit is None:
            self.system(f"no more lines with {text!r} above" if before else f"no line has {text!r}")
            self._find = (text, None)  # the next Ctrl-F starts again at the bottom
        else:
            self._find = (text, hit)
        return True

    def copy(self, count: int) -> None:
        """Put the last ``count`` messages on the clipboard, as plain text, through OSC 52."""
        entries = [e for e in self.log.entries if e.kind in SAID][-count:]
        if not entries:
            self.system("nothing to copy yet", error=True)
            return
        self._app.copy_to_clipboard("\n".join(e.text for e in entries))
        plural = "" if len(entries) == 1 else "s"
        self.system(f"copied {len(entries)} message{plural} (if your terminal allows OSC 52)")

    def clear(self) -> None:
        """``/clear``: empty the scrollback."""
        self.log.clear()

    def page(self, direction: int) -> None:
        """Scroll the log by one page up (-1) or down (1), at once."""
        log = self.log
        page = log.scrollable_content_region.height
        log.scroll_to(y=log.scroll_y + direction * page, animate=False, immediate=True)

    def printed(self, text: str) -> None:
        """Lines printed while the screen is up (a refused joiner...) become system lines."""
        self._print_buffer += text
        *lines, self._print_buffer = self._print_buffer.split("\n")
        for line in lines:
            if line.strip() and not screen_gone(self._app):
                self.system(line)

    def show_unread(self, count: int) -> None:
        """Show or hide the count of unread lines below the view."""
        if not screen_gone(self._app):
            self._app.query_one(UnreadBar).show_count(count)
