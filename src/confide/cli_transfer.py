"""``confide send PATH...`` and ``confide receive``: their flags, and what the user sees.

``add_parsers`` adds both subcommands to ``confide``'s parser: ``send`` takes
the connection and secret flags of ``host`` (``--bind``, ``--port``,
``--words``, ``--tunnel``, ``--no-discovery``, ``--relay``, ``--password``,
``--password-file``, ``--resume-window``...), ``receive`` those of ``join``
(``--at``, ``--relay``, ``--code-file``, ``--password``...) plus ``--dir``,
``--resume`` and ``--yes``. ``run`` turns the parsed flags into the options
of ``app.run_transfer`` and runs it with a ``ConsoleUI``: progress on stderr
(``ui.progress``), each offer shown and, on a terminal, asked about
(``accept? [Y/n]``; with ``--yes`` or no terminal on stdin, accepted, and
said so), and each received file's final path on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confide.errors import UsageError

if TYPE_CHECKING:
    from confide.app.events import AppEvent, TransferRef
    from confide.ui.progress import ProgressView

TRANSFER_EXIT_CODES = """\
exit codes:
  0    every file arrived and its hash was verified
  1    an error: an offer was declined, a hash did not match, the disk is full
       (the .part file is kept for --resume), ...
  2    usage error (bad arguments, no code given, a path that does not exist)
  3    wrong code or password
  4    could not connect, or the connection was lost (and did not come back
       within --resume-window); --require-pq refused an older peer
  130  interrupted (Ctrl-C; a .part file is kept for --resume)
"""

SEND_HELP = """\
Send files or folders: print a code like 'confide host', wait for one receiver
('confide receive'), offer every PATH, stream them, and exit once the receiver
has verified them all.
"""

RECEIVE_HELP = """\
Receive what a 'confide send' offers: the code comes from --code-file,
$CONFIDE_CODE or a prompt. Each offer is shown (name, size, sender) and asked
about on a terminal; files go to --dir (default: downloads in the config file,
else the current folder) and are never written over: a NAME (1).ext is picked.
"""


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``send`` and ``receive`` (with ``host``'s and ``join``'s session flags)."""
    from confide import cli
    from confide.relay import command as relay_command

    fmt = argparse.RawDescriptionHelpFormatter
    epilog = cli.SECRETS_HELP + "\n" + TRANSFER_EXIT_CODES
    send = sub.add_parser(
        "send",
        help="send files or folders: print a code, wait for 'confide receive'",
        description=SEND_HELP,
        epilog=epilog,
        formatter_class=fmt,
    )
    send.add_argument("paths", nargs="+", metavar="PATH", help="a file or a folder to send")
    cli.who_flags(send)
    cli.listen_flags(send)
    cli.reach_options(send)
    relay_command.add_client_options(send, joiner=False)
    cli.session_flags(send)

    receive = sub.add_parser(
        "receive",
        help="receive what 'confide send' offers, with its code",
        description=RECEIVE_HELP,
        epilog=epilog,
        formatter_class=fmt,
    )
    cli.who_flags(receive)
    cli.join_flags(receive)
    relay_command.add_client_options(receive, joiner=True)
    receive.add_argument(
        "--dir",
        metavar="FOLDER",
        help="where received files go (default: downloads in the config file, "
        "else the current folder)",
    )
    receive.add_argument(
        "--resume",
        action="store_true",
        help="continue a NAME.part left by an earlier transfer of the same file "
        "instead of starting a new copy",
    )
    receive.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="accept every offer without asking (also what happens when stdin is not a terminal)",
    )
    cli.session_flags(receive)


async def run(args: argparse.Namespace, nick: str, downloads: str | None) -> int:
    """Run ``send`` or ``receive`` as parsed; return the exit code."""
    from confide import cli
    from confide.app import run_transfer
    from confide.app.transfer_files import scan
    from confide.ui.progress import ProgressView

    view = ProgressView()
    ui = ConsoleUI(view, ask=not args.yes if args.command == "receive" else False)
    try:
        if args.command == "send":
            paths = [Path(p) for p in args.paths]
            for path in paths:
                scan(path)  # a missing or unreadable path is a usage error, before the code
            opts = run_transfer.SendOptions(cli.host_options(args, nick), paths)
            return await run_transfer.send_files(opts, ui)
        folder = _folder(args.dir, downloads)
        join = cli.join_options(args, nick)
        return await run_transfer.receive_files(
            run_transfer.ReceiveOptions(join, folder, resume=args.resume), ui
        )
    finally:
        view.close()


def _folder(flag: str | None, downloads: str | None) -> Path:
    """``--dir``, else the config's ``downloads``, else the current folder; it must exist."""
    text = flag or downloads
    folder = Path(text).expanduser() if text else Path.cwd()
    if not folder.is_dir():
        where = "--dir" if flag else "downloads in the config file"
        raise UsageError(f"{where}: {folder} is not a folder")
    return folder


class ConsoleUI:
    """The one-shot commands' ``TransferUI``: stderr for status, stdout for final paths."""

    def __init__(self, view: ProgressView, *, ask: bool) -> None:
        """Show progress in ``view``; ``ask`` about each offer when stdin is a terminal."""
        self.view = view
        self.ask_user = ask

    def on_event(self, event: AppEvent) -> None:
        """A transfer event: the progress view shows it; the peer's identity, status lines."""
        from confide.app.events import NotPostQuantum, PeerIdentity

        if isinstance(event, NotPostQuantum):
            from confide.ui.pq_text import NOT_PQ

            self.line(f"{event.nick} runs an older confide: this transfer is {NOT_PQ}")
            return
        if isinstance(event, PeerIdentity):  # no /verify here: only what is known is told
            from confide.ui import identity_text

            told = identity_text.told(event, chat=False) if identity_text.badge(event) else None
            if told is None:
                return
            for text in told.lines:
                self.line(identity_text.WARNING + text if told.warning else text)
            return
        self.view.on_event(event)

    def line(self, text: str) -> None:
        """One status line on stderr."""
        self.view.line(text)

    def saved(self, ref: TransferRef, path: str) -> None:
        """Where an incoming transfer went: its final path, on stdout."""
        from confide.text import sanitize

        print(f"saved {sanitize(path)}", flush=True)

    async def ask(self, ref: TransferRef, sender: str) -> bool:
        """Show the offer; ask ``accept? [Y/n]`` on a terminal, else accept and say so."""
        from confide.ui.progress import format_size

        files = f", {ref.files} files" if ref.files != 1 else ""
        self.line(f"{sender} offers {ref.name} ({format_size(ref.size)}{files})")
        if not self.ask_user:
            self.line("accepting (--yes)")
            return True
        if not sys.stdin.isatty():
            self.line("stdin is not a terminal: accepting")
            return True
        answer = await _read_line("accept? [Y/n] ")
        return answer.strip().lower() in ("", "y", "yes")


async def _read_line(prompt: str) -> str:
    """One line from the terminal on stdin, without a thread (Ctrl-C ends it at once)."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    loop = asyncio.get_running_loop()
    got: asyncio.Future[str] = loop.create_future()
    fd = sys.stdin.fileno()

    def readable() -> None:
        if not got.done():
            got.set_result(sys.stdin.readline())

    loop.add_reader(fd, readable)
    try:
        line = await got
    finally:
        loop.remove_reader(fd)
    if not line:
        raise UsageError("no answer (end of input): nothing was accepted")
    return line
