"""``confide id`` and ``confide contacts``: your identity, and the people you have verified.

How this works: ``add_parsers`` adds both subcommands to ``confide``'s
parser, and ``identity_flags`` adds ``--identity FILE`` and
``--no-identity`` to the chat commands (``host``, ``join``, ``send``,
``receive``: parsed here, used by the sessions). ``run`` is what ``cli.main``
dispatches ``id`` and ``contacts`` to; it runs without an event loop, and
only it loads the key file and contacts modules (``app.identity_file``,
``app.contacts``), so neither ``confide --help`` nor a chat's start-up pays
for this module beyond its parser.

- ``confide id [--identity FILE]``: ``your fingerprint: xxxx xxxx ...`` and
  ``key file: PATH`` on stdout; the first time, the key is made and stderr
  says ``created a new identity in FILE``.
- ``confide contacts``: one line per key (fingerprint, verified or not,
  first and last seen as local dates, nick last, so a wide nick cannot push
  the columns out of line), verified first; ``no contacts yet`` when none.
- ``confide contacts forget NICK``: drops every key under ``NICK`` (case
  ignored, as nicks are compared everywhere): ``forgot NICK (N keys)``;
  none: exit 1, ``confide: no contact called NICK``.

A corrupt contacts file or an unreadable key file is one line and exit 1
(``cli.main`` prints every ``ConfideError`` that way).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from confide.app.contacts import Contact

ID_HELP = """\
Show your identity's fingerprint: what your contacts see when they verify you.
The identity is an Ed25519 key, made the first time confide needs it and kept
in identity.pem in confide's data folder (mode 0600). Each chat proves it to
the peer inside the encryption; once you both compared the SAS and typed
'/verify ok', later chats with the same key are recognised without comparing.
To take your identity to a new machine, copy identity.pem (and contacts.json
for your contacts) to the same folder there; docs/SECURITY.md says more.
"""

CONTACTS_HELP = """\
List the keys confide has seen in chats: each one's fingerprint, whether you
verified it ('/verify ok' after comparing the SAS), when it was first and last
seen, and its nick. 'confide contacts forget NICK' removes every key under
NICK; in a chat, '/verify forget' removes the peer's key. The list is
contacts.json in confide's data folder (mode 0600).
"""

FORGET_HELP = """\
Remove every key listed under NICK (case ignored). The next chat with that
person shows them as a new contact, to verify again with the SAS.
"""


def key_file(text: str) -> Path:
    """``--identity FILE``'s value: a path, ``~`` expanded (``--identity=~/k.pem`` too)."""
    return Path(text).expanduser()


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``id`` and ``contacts`` (with ``contacts forget NICK``)."""
    fmt = argparse.RawDescriptionHelpFormatter
    ident = sub.add_parser(
        "id",
        help="show your identity's fingerprint (made on first use)",
        description=ID_HELP,
        formatter_class=fmt,
    )
    ident.add_argument(
        "--identity",
        type=key_file,
        metavar="FILE",
        help="the key file to show (default: identity.pem in the data folder; made if missing)",
    )
    contacts = sub.add_parser(
        "contacts",
        help="list the people you have verified, or forget one",
        description=CONTACTS_HELP,
        formatter_class=fmt,
    )
    actions = contacts.add_subparsers(dest="contacts_command", metavar="{forget}")
    forget = actions.add_parser(
        "forget",
        help="remove every key under NICK",
        description=FORGET_HELP,
        formatter_class=fmt,
    )
    forget.add_argument("nick", metavar="NICK", help="the nick the contact is listed under")


def identity_flags(p: argparse.ArgumentParser) -> None:
    """``--identity FILE`` or ``--no-identity``, as ``args.identity`` and ``args.no_identity``."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--identity",
        type=key_file,
        metavar="FILE",
        help="your identity key (default: identity.pem in the data folder, made on first "
        "use; see 'confide id')",
    )
    group.add_argument(
        "--no-identity",
        action="store_true",
        help="a throwaway identity for this chat only: the peer sees a new key, and no "
        "contact is read or written",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``id`` or ``contacts`` as parsed; return the exit code."""
    if args.command == "id":
        return show_identity(args.identity)
    if args.contacts_command == "forget":
        return forget(args.nick)
    return list_contacts()


def show_identity(path: Path | None) -> int:
    """``confide id``: the fingerprint and the key file (made on first use, said on stderr)."""
    from confide.app.identity_file import identity_at
    from confide.protocol.identity import fingerprint, public_bytes

    stored = identity_at(path)
    if stored.created:
        print(f"created a new identity in {stored.path}", file=sys.stderr, flush=True)
    print(f"your fingerprint: {fingerprint(public_bytes(stored.key))}")
    print(f"key file: {stored.path}")
    return 0


def list_contacts() -> int:
    """``confide contacts``: the table, or ``no contacts yet``."""
    from confide.app.contacts import Contacts
    from confide.app.identity_file import default_contacts_path

    entries = Contacts.load(default_contacts_path()).entries()
    if not entries:
        print("no contacts yet")
        return 0
    for line in table(entries):
        print(line)
    return 0


def forget(nick: str) -> int:
    """``confide contacts forget NICK``: ``forgot NICK (N keys)``, or exit 1 if none."""
    from confide.app.contacts import Contacts
    from confide.app.identity_file import default_contacts_path
    from confide.errors import LocalError
    from confide.text import sanitize

    shown = sanitize(nick)
    count = Contacts.load(default_contacts_path()).forget_nick(nick)
    if count == 0:
        raise LocalError(f"no contact called {shown}")
    print(f"forgot {shown} ({count} {'key' if count == 1 else 'keys'})")
    return 0


def table(entries: list[Contact]) -> list[str]:
    """The contacts as aligned lines, a header first; dates are local (``YYYY-MM-DD``)."""
    from datetime import datetime

    from confide.protocol.identity import fingerprint
    from confide.text import sanitize

    def day(when: float) -> str:
        return datetime.fromtimestamp(when).date().isoformat()  # local time: the user's own dates

    rows = [("FINGERPRINT", "VERIFIED", "FIRST SEEN", "LAST SEEN", "NICK")]
    rows += [
        (
            fingerprint(c.key),
            "yes" if c.verified else "no",
            day(c.first_seen),
            day(c.last_seen),
            sanitize(c.nick),
        )
        for c in entries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return ["  ".join([*(r[i].ljust(widths[i]) for i in range(4)), r[4]]) for r in rows]
