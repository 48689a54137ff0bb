"""The ``confide`` command: host, join, or a guided prompt that asks for both.

Everything is parsed here and handed to ``confide.app.run`` (``send`` and
``receive``, the one-shot transfers, to ``confide.cli_transfer``, which
reuses the flag groups and option builders here: ``who_flags``,
``listen_flags``, ``reach_options``, ``join_flags``, ``session_flags``,
``host_options``, ``join_options``; ``id`` and ``contacts``, and the
chat commands' ``--identity``/``--no-identity``, to ``confide.cli_identity``).
Errors become one plain line on stderr and a documented exit code; a
traceback is shown only with ``CONFIDE_DEBUG=1``. Textual is imported only for the full-screen UI
(a host imports it once its code is shown, while it waits), so ``--help`` and line mode
stay fast. ``confide completion
SHELL`` prints a completion script (``confide.completion``, which alone loads
``shtab``); ``--log FILE`` wraps the UI in a transcript (``app.transcript``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import re
import secrets
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from confide import __version__
from confide.app.room_limits import DEFAULT_MEMBERS, MAX_MEMBERS
from confide.cli_types import (
    DEFAULT_RESUME_WINDOW,
    DEFAULT_WAITING,
    port_number,
    waiting_messages,
    window_seconds,
)
from confide.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    ConfideError,
    UsageError,
)
from confide.net import DEFAULT_PORT
from confide.relay import command as relay_command

if TYPE_CHECKING:
    from confide.app.identities import IdentityChoice
    from confide.app.run import HostOptions, JoinOptions, UiRunner
    from confide.app.session_api import SessionSource
    from confide.ui.tui.settings import TuiSettings

EXIT_CODES = """\
exit codes:
  0    the chat ended normally (bye, /quit, end of input, or the peer left)
       (send/receive: every file arrived verified)
  1    unexpected error (send/receive: declined, hash mismatch, disk full, ...;
       join/receive: the code is for the other command)
  2    usage error (bad arguments, no code given, unreadable secret file)
  3    wrong code or password
  4    could not connect, or the connection was lost (and did not come back
       within --resume-window); --require-pq refused an older peer
  130  interrupted (Ctrl-C)
"""

SECRETS_HELP = """\
secrets are never taken as bare arguments (ps would show them):
  join reads the code from --code-file FILE, $CONFIDE_CODE, or a no-echo prompt;
  --password reads $CONFIDE_PASSWORD or prompts; --password-file FILE reads a file.
"""


LINE_MODE_HELP = """\
line mode (stdin or stdout not a terminal, or --plain):
  each input line is sent; the exact line 'bye' or '/quit' leaves, as do end of
  input and Ctrl-C; '/me TEXT', '/nick NEW' and the rest of '/help' are
  commands, and '//' starts a message with '/'.
  --raw: every input line is sent as it is (commands and 'bye' too); only end
  of input or Ctrl-C leaves. Use it to pipe in text you don't control.

files in a chat (both UIs):
  '/send PATH' offers a file or folder (in a room: to everyone; '/send NICK
  PATH' to one member); the other side answers '/accept' (or 'y') or
  '/decline'; '/cancel' stops a transfer. Files go to 'downloads' in the config
  file, else your downloads folder. Without a chat: 'confide send' / 'receive'.
"""


_CODE_LIKE = re.compile(r"\d+(?:[-_ ]+[^\s'\",]+){2,}")
NO_CODE_ARGUMENT = (
    "a code is never taken as an argument (ps shows arguments to everyone): "
    "set CONFIDE_CODE, use --code-file FILE, or type it at the prompt"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        redacted = _CODE_LIKE.sub("<code hidden>", message)
        if redacted != message:  # never echo what looks like a secret
            raise UsageError(f"{redacted}; {NO_CODE_ARGUMENT}")
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="confide",
        description="End-to-end encrypted terminal chat. Share a short code, talk privately.\n"
        "Run with no arguments for a guided prompt.",
        epilog=SECRETS_HELP + "\n" + LINE_MODE_HELP + "\n" + EXIT_CODES,
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"confide {__version__}")
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="show where the config file is and what it holds, then exit",
    )
    sub = parser.add_subparsers(
        dest="command",
        metavar="{host,join,send,receive,relay,id,contacts,completion}",
        parser_class=_Parser,
    )

    host = sub.add_parser(
        "host",
        help="host a chat and print a code for your peer",
        description="Host a chat room: listen, print a code, and let people join with it.",
        epilog=SECRETS_HELP + "\n" + LINE_MODE_HELP + "\n" + EXIT_CODES,
        formatter_class=fmt,
    )
    _common(host)
    listen_flags(host)
    host.add_argument(
        "--max-members",
        type=int,
        default=DEFAULT_MEMBERS,
        metavar="N",
        help=f"members the room holds, you included (2 to {MAX_MEMBERS}; "
        f"default: {DEFAULT_MEMBERS})",
    )
    reach_options(host)
    relay_command.add_client_options(host, joiner=False)

    join = sub.add_parser(
        "join",
        help="join a chat with the code your peer gave you",
        description="Join a chat. The code is read from --code-file, $CONFIDE_CODE, or a prompt.",
        epilog=SECRETS_HELP + "\n" + LINE_MODE_HELP + "\n" + EXIT_CODES,
        formatter_class=fmt,
    )
    _common(join)
    join_flags(join)
    relay_command.add_client_options(join, joiner=True)
    from confide import cli_transfer

    cli_transfer.add_parsers(sub)
    relay_command.add_parser(sub)
    from confide import cli_identity

    cli_identity.add_parsers(sub)
    completion = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print a completion script for your shell; the README shows where it goes.",
    )
    completion.add_argument("shell", choices=("bash", "zsh", "fish"))
    return parser


def listen_flags(host: argparse.ArgumentParser) -> None:
    """``--bind``, ``--port`` and ``--words``: where a host listens and its code's length."""
    host.add_argument(
        "--bind", default="0.0.0.0", metavar="ADDR", help="address to listen on (default: all)"
    )
    host.add_argument(
        "--port",
        type=port_number("--port"),
        default=None,
        help=f"port to listen on; 0 picks a free one (default: {DEFAULT_PORT}, "
        "or port in the config)",
    )
    host.add_argument(
        "--words",
        type=int,
        default=3,
        metavar="N",
        help="words in the generated code (default: 3, 33 bits)",
    )


def join_flags(join: argparse.ArgumentParser) -> None:
    """``--at``, ``--discover-timeout``, ``--code-file``, ``--timeout``: how a joiner connects."""
    join.add_argument(
        "--at", metavar="HOST:PORT", help="where the host listens (default: search the LAN)"
    )
    join.add_argument(
        "--discover-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long to search the LAN when there is no --at (default: 5)",
    )
    join.add_argument("--code-file", metavar="FILE", help="read the code from FILE")
    join.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="connect and handshake timeout (default: 10)",
    )


def reach_options(host: argparse.ArgumentParser) -> None:
    """``--tunnel`` (SSH reverse tunnel) and ``--no-discovery`` (LAN zeroconf)."""
    host.add_argument(
        "--tunnel",
        metavar="[USER@]SSHHOST[:SSHPORT]",
        help="publish the chat through an SSH reverse tunnel with your ssh (e.g. serveo.net, "
        "or you@your-server: its sshd needs GatewayPorts for others to reach the port)",
    )
    host.add_argument(
        "--tunnel-port",
        type=port_number("--tunnel-port"),
        default=0,
        metavar="PORT",
        help="port to open on the SSH server (default: one the server picks)",
    )
    host.add_argument(
        "--no-discovery",
        action="store_true",
        help="do not advertise the room on the LAN (zeroconf: nameplate and version only)",
    )


def _common(p: argparse.ArgumentParser) -> None:
    who_flags(p)
    _ui_flags(p)
    session_flags(p)


def who_flags(p: argparse.ArgumentParser) -> None:
    """``--name``; ``--password`` or ``--password-file``; ``--identity`` or ``--no-identity``."""
    from confide import cli_identity

    p.add_argument(
        "--name", metavar="NICK", help="your nickname (default: nick in the config, or login name)"
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--password",
        action="store_true",
        help="use a password you choose instead of a code (prompted, or $CONFIDE_PASSWORD)",
    )
    group.add_argument("--password-file", metavar="FILE", help="read the password from FILE")
    cli_identity.identity_flags(p)


def _ui_flags(p: argparse.ArgumentParser) -> None:
    """What the chat UI does: ``--plain``, ``--log``, ``--raw``, the bell, typing, notify."""
    p.add_argument("--plain", action="store_true", help="line mode even on a terminal")
    p.add_argument(
        "--log",
        metavar="FILE",
        help="append a transcript of the chat to FILE (mode 0600; off by default: "
        "a log keeps what confide otherwise never keeps)",
    )
    p.add_argument(
        "--raw",
        action="store_true",
        help="line mode; every input line is a message (no commands, no bye): "
        "only end of input leaves",
    )
    p.add_argument("--no-bell", action="store_true", help="never ring the bell on a mention")
    p.add_argument(
        "--typing",
        action="store_true",
        help="show and send a typing indicator (only if your peer turns it on too)",
    )
    p.add_argument(
        "--notify",
        action="store_true",
        help="on a mention while the terminal is unfocused, a desktop notification (OSC 777/9)",
    )


def session_flags(p: argparse.ArgumentParser) -> None:
    """``--resume-window``, ``--max-waiting``, ``--handshake-timeout`` and ``--require-pq``."""
    p.add_argument(
        "--resume-window",
        type=window_seconds,
        default=DEFAULT_RESUME_WINDOW,
        metavar="SECONDS",
        help="after a network drop, reconnect by itself for this long before giving up "
        f"(default: {DEFAULT_RESUME_WINDOW:g}, 5 min; 0: no resume, a drop ends the chat)",
    )
    p.add_argument(
        "--max-waiting",
        type=waiting_messages,
        default=DEFAULT_WAITING,
        metavar="N",
        help="messages that may wait for the peer to acknowledge them, while reconnecting "
        f"too (default: {DEFAULT_WAITING}; and at most 16 MiB); past that a line is not sent",
    )
    p.add_argument(
        "--handshake-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up on a silent peer after this long (default: 10)",
    )
    p.add_argument(
        "--require-pq",
        action="store_true",
        help="refuse a peer whose confide can't do the post-quantum key exchange "
        "(an older version): a joiner or receiver exits 4, a host refuses that joiner "
        "and waits on (send exits 4); also require_pq = true in the config",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    from confide.secrets_input import take_environment

    take_environment()  # CONFIDE_CODE/CONFIDE_PASSWORD: out of the environment children inherit
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if not args_list:
            args_list = guided()
        args = build_parser().parse_args(args_list)
        if args.print_config:
            from confide import config

            print(config.describe(config.load()))
            return 0
        if args.command is None:
            build_parser().print_help(sys.stderr)
            return EXIT_USAGE
        if args.command == "completion":
            from confide.completion import script

            sys.stdout.write(script(args.shell, build_parser()))
            return 0
        if args.command in ("id", "contacts"):
            from confide import cli_identity

            return cli_identity.run(args)
        from confide import allocator

        allocator.tune()  # streams reuse their buffers instead of page-faulting them
        return asyncio.run(_dispatch(args))
    except ConfideError as exc:
        from confide.ui.texts import describe

        print(f"confide: {describe(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("confide: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    except Exception as exc:
        if os.environ.get("CONFIDE_DEBUG"):
            raise
        print(f"confide: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _nick(args: argparse.Namespace) -> str:
    """The nick asked for, checked (a usage error says what is wrong), or the login name."""
    from confide.protocol.nicks import nick_problem

    if not args.name:
        return _default_name()
    problem = nick_problem(str(args.name))
    if problem is not None:
        raise UsageError(f"--name: {problem}")
    return str(args.name)


def _password(args: argparse.Namespace) -> str | None:
    """The password asked for (a file, the environment or a prompt), or None for a code."""
    from confide.secrets_input import read_secret_file, secret_from

    if args.password_file:
        text = read_secret_file(args.password_file, "password")
    elif args.password:
        # a new password: typed twice, a typo would lock all out
        host = args.command in ("host", "send")
        text = secret_from(None, "CONFIDE_PASSWORD", "password: ", "password", confirm=host)
    else:
        return None
    return text


async def _dispatch(args: argparse.Namespace) -> int:
    from confide import config
    from confide.app import run
    from confide.ui.tui.settings import TuiSettings  # no Textual import

    if args.command == "relay":
        return await relay_command.run(args)
    cfg = config.load()
    args.name = args.name or cfg.nick  # flags win over the config file
    nick = _nick(args)
    args.require_pq = args.require_pq or cfg.require_pq  # the flag can only turn it on
    if args.command in ("host", "send") and args.port is None:
        args.port = cfg.port
    if args.command in ("send", "receive"):
        from confide import cli_transfer

        return await cli_transfer.run(args, nick, cfg.downloads)
    settings = TuiSettings.from_config(
        cfg, no_bell=args.no_bell, typing=args.typing, notify=args.notify
    )
    run_ui = _ui(args.plain or args.raw, settings, raw=args.raw)
    if args.log or cfg.log_dir:  # opened before connecting: a bad path is a usage error
        run_ui = _logged(run_ui, args, cfg.log_dir)
    if args.command == "host":
        if not 2 <= args.max_members <= MAX_MEMBERS:
            raise UsageError(f"--max-members must be between 2 and {MAX_MEMBERS} (you included)")
        opts = host_options(args, nick)
        opts.max_members = args.max_members
        opts.downloads = config.downloads_dir(cfg)
        opts.ui_modules = _ui_modules(args.plain or args.raw)
        settings.room = lambda: opts.secret.room
        return await run.host_chat(opts, run_ui)
    join_opts = join_options(args, nick)
    join_opts.downloads = config.downloads_dir(cfg)
    settings.room = lambda: join_opts.room
    return await run.join_chat(join_opts, run_ui)


def _logged(run_ui: UiRunner, args: argparse.Namespace, log_dir: str | None) -> UiRunner:
    """``run_ui`` writing a transcript to ``--log FILE`` or today's file in ``log_dir``."""
    from confide.app import transcript  # only with a log: it loads the app's events
    from confide.ui.texts import disconnect_reason

    log_to = transcript.log_path(args.log, log_dir)
    assert log_to is not None  # a file or a folder was given
    log = transcript.open_transcript(log_to, make_dir=not args.log)
    log.defer_warnings = _full_screen(args.plain or args.raw)
    log.disconnect_reason = disconnect_reason
    print(f"logging the chat to {log_to}", file=sys.stderr, flush=True)
    return transcript.logging_ui(run_ui, log)


def host_options(args: argparse.Namespace, nick: str) -> HostOptions:
    """What ``host`` (or ``send``) was asked for; the password is read here (or a code made)."""
    from confide import cli_relay
    from confide.app import run
    from confide.app.secret import Secret
    from confide.protocol import codes
    from confide.ui.texts import describe

    try:
        codes.check_word_count(args.words)
    except UsageError:
        words = f"{codes.MIN_WORDS} and {codes.MAX_WORDS}"
        raise UsageError(f"--words must be between {words}") from None
    password = _password(args)
    if password is None:
        secret = Secret.generated(args.words, secrets.randbelow)
    else:
        secret = Secret.from_password(password)
    opts = run.HostOptions(secret, nick, args.bind, args.port, args.handshake_timeout)
    opts.tunnel, opts.tunnel_port = args.tunnel, args.tunnel_port
    opts.discovery = not args.no_discovery
    opts.resume_window = args.resume_window
    opts.max_waiting = args.max_waiting
    opts.relay = cli_relay.from_args(args)
    opts.describe_error = describe
    opts.identity = identity_choice(args)
    opts.require_pq = args.require_pq
    if args.tunnel is not None:
        from confide.net.tunnel import parse_target

        parse_target(args.tunnel)  # a malformed target is a usage error (exit 2)
    if args.tunnel_port and args.tunnel is None:
        raise UsageError("--tunnel-port needs --tunnel [USER@]SSHHOST")
    return opts


def join_options(args: argparse.Namespace, nick: str) -> JoinOptions:
    """What ``join`` (or ``receive``) was asked for; the code or password is read here."""
    from confide import cli_relay
    from confide.app import run
    from confide.net.tcp import parse_address
    from confide.protocol import codes

    address, port = parse_address(args.at) if args.at else ("", 0)  # no --at: search the LAN
    password = _password(args)
    if password is None:
        from confide.secrets_input import secret_from

        code = codes.parse(secret_from(args.code_file, "CONFIDE_CODE", "code: ", "code"))
        key, room = code.secret, code.nameplate
    else:
        key, room = codes.secret_bytes(password), ""
    relay = cli_relay.from_args(args)
    if relay is not None and password is not None:
        room = cli_relay.password_room(args.room)
    timeout = min(args.timeout, args.handshake_timeout)  # either flag bounds the wait
    join_opts = run.JoinOptions(key, room, nick, address, port, timeout=timeout)
    join_opts.discover_timeout = args.discover_timeout
    join_opts.relay = relay
    join_opts.resume_window = args.resume_window
    join_opts.max_waiting = args.max_waiting
    join_opts.identity = identity_choice(args)
    join_opts.require_pq = args.require_pq
    return join_opts


def identity_choice(args: argparse.Namespace) -> IdentityChoice:
    """``--identity FILE`` or ``--no-identity``: which key a chat or transfer proves."""
    from confide.app.identities import IdentityChoice

    return IdentityChoice(keep=not args.no_identity, path=args.identity)


def _ui(plain: bool, settings: TuiSettings | None = None, *, raw: bool = False) -> UiRunner:
    """The full-screen UI when stdin and stdout are terminals (and not --plain), else line mode.

    ``raw``: line mode sends every input line as a message (``--raw``).
    """
    if _full_screen(plain):

        async def full_screen(spec: SessionSource) -> int:
            from confide.ui.tui import run_tui  # the only path that imports Textual
            from confide.ui.tui.settings import TuiSettings

            return await run_tui(spec, settings or TuiSettings())

        return full_screen

    async def line(spec: SessionSource) -> int:
        from confide.ui.line import LineUI, run_line_mode  # once connected: a host's code is out

        ui = LineUI(raw=raw)
        return await run_line_mode(spec.session(ui.on_event), ui)

    return line


def _ui_modules(plain: bool) -> tuple[str, ...]:
    """What the UI ``_ui`` picks imports when it opens (a host loads it while it waits)."""
    return ("confide.ui.tui.app",) if _full_screen(plain) else ("confide.ui.line",)


def _full_screen(plain: bool) -> bool:
    return not plain and sys.stdin.isatty() and sys.stdout.isatty()


def guided() -> list[str]:
    """Ask, step by step, what the flags would say; return the equivalent arguments."""
    from confide.secrets_input import has_terminal

    if not sys.stdin.isatty() or not has_terminal():
        raise UsageError("no arguments and no terminal: try 'confide --help'")
    print("confide: end-to-end encrypted chat. Ctrl-C to cancel.", file=sys.stderr)
    role = _choose("Host a chat or join one?", "hj")
    argv: list[str] = []
    if role == "j":
        argv.append("join")
        if _choose("Reach the host directly or through a relay?", "dr") == "r":
            argv += ["--relay", _ask("Relay address (HOST:PORT)", "")]
        else:
            address = _ask("Host address HOST:PORT (empty: search the LAN)", "", optional=True)
            argv += ["--at", address] if address else []
    else:
        argv.append("host")
        how = _choose("Peer on the LAN, or over the internet by SSH tunnel or relay?", "lsr")
        if how == "s":
            argv += ["--tunnel", _ask("SSH host for the tunnel ([USER@]HOST[:PORT])", "serveo.net")]
        elif how == "r":
            argv += ["--relay", _ask("Relay address (HOST:PORT)", "")]
        else:
            argv += ["--port", _ask("Port to listen on", str(DEFAULT_PORT))]
    argv += ["--name", _ask("Your name", _default_name())]
    if _choose("Use a generated code or your own password?", "cp") == "p":
        argv.append("--password")
    return argv


def _choose(question: str, letters: str) -> str:
    """Ask for one of ``letters``; the first is the default, shown in capitals: ``[H/j]``."""
    shown = "/".join([letters[0].upper(), *letters[1:]])
    answer = _ask(f"{question} [{shown}]", letters[0]).lower()
    return next((c for c in letters if answer.startswith(c)), letters[0])


def _default_name() -> str:
    from confide.protocol.nicks import clean_nick

    try:
        return clean_nick(getpass.getuser())
    except Exception:
        return "anon"


def _ask(question: str, default: str, *, optional: bool = False) -> str:
    suffix = f" [{default}]" if default and "[" not in question else ""
    try:
        answer = input(f"{question}{suffix}: ").strip()
    except EOFError:
        raise UsageError("guided prompt cancelled") from None
    if not answer and not default and not optional:
        raise UsageError("an answer is needed")
    return answer or default
