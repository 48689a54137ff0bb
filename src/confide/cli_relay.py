"""Which relay ``confide host``/``join`` use, from the flags, the environment and the config.

The relay client (``confide.net.relay_client``) takes plain addresses; this
module, on the CLI side, decides which: ``--relay``, else
``$CONFIDE_RELAY``, else the config file's ``relay``, and only when no other
path (``--at``, ``--tunnel``) was asked for and not ``--no-relay``. Each of
them may name several nodes of one relay, ``a:7200,b:7200``
(``parse_relays``): the client tries them in turn. It also checks the
``--room`` a ``--password`` joiner names (a relay needs one).
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from confide.errors import UsageError
from confide.net.tcp import parse_address
from confide.wire import routing

if TYPE_CHECKING:
    from confide.net.relay_dial import Relays

MAX_RELAYS = 16
"""The most addresses one ``--relay`` may list."""


def parse_relays(text: str) -> Relays:
    """``HOST[:PORT],HOST[:PORT],...`` as addresses, in order (``UsageError`` if malformed).

    The port defaults to the relay's (7200); IPv6 is ``[ADDR]:PORT``; an
    address listed twice counts once.
    """
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise UsageError(f"bad relay list {text.strip()!r}: an empty address")
    if len(parts) > MAX_RELAYS:
        raise UsageError(f"a relay list holds at most {MAX_RELAYS} addresses")
    found = [parse_address(part, routing.DEFAULT_PORT) for part in parts]
    return tuple(dict.fromkeys(found))


def resolve(flag: str | None, *, use_defaults: bool = True) -> Relays | None:
    """The relay's addresses: ``--relay``, else ``$CONFIDE_RELAY``, else the config's ``relay``.

    With ``use_defaults`` false (another path was asked for) only the flag counts.
    """
    text = flag
    if not text and use_defaults:
        text = os.environ.get("CONFIDE_RELAY", "").strip()
        if not text:
            from confide import config

            text = config.load().relay or ""
    if not text:
        return None
    return parse_relays(text)


def from_args(args: argparse.Namespace) -> Relays | None:
    """The relay ``confide host``/``join`` should use, if any.

    ``--relay`` wins; ``$CONFIDE_RELAY`` and the config file count only when
    no other path (``--at``, ``--tunnel``) was asked for and not ``--no-relay``.
    """
    other = getattr(args, "at", None) or getattr(args, "tunnel", None)
    if args.relay and (other or args.no_relay):
        raise UsageError("--relay cannot be combined with --at, --tunnel or --no-relay")
    return resolve(args.relay, use_defaults=not (other or args.no_relay))


def password_room(text: str | None) -> str:
    """The nameplate a ``--password`` joiner names with ``--room`` (needed through a relay)."""
    if not text:
        raise UsageError(
            "a --password chat through a relay needs --room NUMBER (the host shows it)"
        )
    try:
        return routing.check_nameplate(text.strip())
    except ValueError:
        raise UsageError("--room takes the room number the host shows, like 42") from None
