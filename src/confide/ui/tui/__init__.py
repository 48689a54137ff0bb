"""The full-screen interface, on Textual.

Importing this package does not import Textual (``confide --help`` and line
mode must stay fast); ``run_tui`` does, when the interface actually starts.
The pieces: ``app`` (the ``ConfideApp``, which puts together ``feed``:
what goes into the log, ``status``: the bars, ``input_line``: the input and
its commands, and ``leaving``, sharing a ``state``), ``log`` (the virtual
scrollback), ``widgets`` (status bar, input line, small bars), ``screens``
(the leave and paste questions), ``theme`` (the mono theme), ``messages``
(the typed Textual messages they exchange), ``driver`` (Textual's Linux
driver, also seeing pastes the terminal did not mark), and Textual-free
logic: ``history``, ``complete``, ``colours`` and ``settings``. The command
parser both interfaces share is ``confide.ui.commands``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from confide.app.session_api import SessionSource
    from confide.ui.tui.settings import TuiSettings


async def run_tui(spec: SessionSource, settings: TuiSettings) -> int:
    """Run the full-screen chat of the session ``spec`` describes; return its exit code.

    Once the screen is closed (the terminal is back on its normal screen), the
    reason the chat ended is left there in one line on stderr, as line mode
    prints it: ``bob left``, ``error: connection lost: ...``.
    """
    import sys

    from confide.ui.tui.app import ConfideApp

    app = ConfideApp(settings, spec)
    await app.run_async()
    code = await app.finish()
    if app.leaving.end_reason:
        print(app.leaving.end_reason, file=sys.stderr, flush=True)
    return code
