"""The ``confide relay`` subcommand: its flags, its help, and starting the server.

``add_parser`` is called by ``confide.cli`` to add the subcommand;
``run`` is what it dispatches to. The help ends with a systemd unit, the
same one docs/RELAY.md explains.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from confide.cli_types import port_number
from confide.relay import limits
from confide.wire.routing import DEFAULT_PORT

_DEFAULTS = limits.Limits()
SERVICE_HELP = f"""\
running it as a service (systemd), e.g. /etc/systemd/system/confide-relay.service:

  [Unit]
  Description=confide relay
  After=network-online.target
  Wants=network-online.target

  [Service]
  # Size the limits for the chats you expect. A chat of two holds 3
  # connections (the host's control link, the joiner, the host's side; a room
  # of M members 2M-1). Out of the box: --max-connections {_DEFAULTS.max_connections},
  # --max-rooms {_DEFAULTS.max_rooms} and --max-per-ip {_DEFAULTS.max_per_ip} \
({_DEFAULTS.max_per_ip // 3} chats from one address).
  # For 5,000 chats of two at once:
  #   ExecStart=/usr/local/bin/confide relay --port {DEFAULT_PORT} \
--max-connections 15000 --max-rooms 5000
  # with LimitNOFILE above --max-connections. Raise --max-per-ip only for many
  # users behind one address (a NAT): it keeps one address from filling the relay.
  ExecStart=/usr/local/bin/confide relay --port {DEFAULT_PORT}
  DynamicUser=yes
  Restart=on-failure
  NoNewPrivileges=yes
  ProtectSystem=strict
  ProtectHome=yes
  PrivateTmp=yes
  LimitNOFILE=65536

  [Install]
  WantedBy=multi-user.target

then: systemctl daemon-reload && systemctl enable --now confide-relay
logs: journalctl -u confide-relay (one line per event; never payload or codes)
SIGTERM (systemctl stop) tells every connected end and exits 0.
clients use it with: confide host --relay HOST:{DEFAULT_PORT} and \
confide join --relay HOST:{DEFAULT_PORT}
(or $CONFIDE_RELAY, or relay = "HOST:{DEFAULT_PORT}" in the config file); the joiner types
the code at the prompt or sets CONFIDE_CODE. See docs/RELAY.md.
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``confide relay`` to the subcommands."""
    parser = sub.add_parser(
        "relay",
        help="run a relay that pairs hosts and joiners across the internet",
        description="Run a confide relay: hosts get a nameplate from it, joiners reach them\n"
        "through it. It forwards end-to-end encrypted bytes it cannot read.",
        epilog=SERVICE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--bind",
        default="0.0.0.0",
        metavar="ADDR",
        help="address to listen on (default: 0.0.0.0, all IPv4; '::' for IPv6; "
        "'0.0.0.0,::' for both)",
    )
    parser.add_argument(
        "--port",
        type=port_number("--port"),
        default=DEFAULT_PORT,
        help=f"port to listen on; 0 picks a free one (default: {DEFAULT_PORT})",
    )
    cluster = parser.add_argument_group(
        "cluster", "several relay nodes sharing one Redis directory (docs/RELAY.md)"
    )
    cluster.add_argument(
        "--redis",
        metavar="URL",
        help="be one node of a cluster whose directory is this Redis or Valkey, "
        "redis://HOST:PORT/DB (default: $CONFIDE_RELAY_REDIS; put a password there, "
        "not on the command line)",
    )
    cluster.add_argument(
        "--advertise",
        metavar="HOST:PORT",
        help="the address clients reach this node at (default: the --bind address and "
        "--port; required with a wildcard --bind)",
    )
    cluster.add_argument(
        "--node", metavar="NAME", help="this node's name in logs and Redis (default: --advertise)"
    )
    cluster.add_argument(
        "--directory-ttl",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="how long the rooms of a node that stopped answering stay in the directory "
        "(default: 15)",
    )
    cluster.add_argument(
        "--redis-timeout",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="the longest one Redis call may take before a request is refused (default: 0.5)",
    )
    limits.add_arguments(parser)


def add_client_options(parser: argparse.ArgumentParser, *, joiner: bool) -> None:
    """``--relay``, ``--no-relay`` (and for a joiner ``--room``) on ``host`` or ``join``."""
    parser.add_argument(
        "--relay",
        metavar="HOST:PORT[,...]",
        help="go through a confide relay; several nodes of one relay, comma-separated, are "
        "tried in turn (default: $CONFIDE_RELAY, or relay in the config file)",
    )
    parser.add_argument(
        "--no-relay",
        action="store_true",
        help="ignore $CONFIDE_RELAY and the config file's relay",
    )
    if joiner:
        parser.add_argument(
            "--room",
            metavar="NUMBER",
            help="the relay room of a --password chat (the host prints it)",
        )


async def run(args: argparse.Namespace) -> int:
    """Start the relay the parsed flags describe; return its exit code."""
    from confide.relay.cluster import options_from
    from confide.relay.service import serve

    cluster = options_from(
        os.environ,
        redis=args.redis,
        advertise=args.advertise,
        node=args.node,
        directory_ttl=args.directory_ttl,
        redis_timeout=args.redis_timeout,
        bind=args.bind,
    )
    return await serve(limits.from_args(args), args.bind, args.port, cluster=cluster)
