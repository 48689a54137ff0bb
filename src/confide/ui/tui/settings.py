"""What the full-screen interface was asked for: bell, theme, typing, room.

Built from the config file and the command line (flags win). ``NO_COLOR``
(any non-empty value, see no-color.org) forces the monochrome theme.
The clock is injectable so snapshot tests show fixed timestamps.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from confide.config import THEMES, Config

MAX_LINES = 10_000


def resolve_theme(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The theme to use: ``mono`` whenever ``NO_COLOR`` is set, else ``name``."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return "mono"
    return name if name in THEMES else "dark"


@dataclass
class TuiSettings:
    """Choices for one run of the interface."""

    bell: bool = True
    theme: str = "dark"
    typing: bool = False
    notify: bool = False  # a desktop notification on a mention while unfocused
    notify_text: bool = False  # ...that includes the message text
    room: Callable[[], str] = field(default=lambda: "")
    clock: Callable[[], datetime] = field(default=datetime.now)
    max_lines: int = MAX_LINES

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        no_bell: bool = False,
        typing: bool = False,
        notify: bool = False,
        room: Callable[[], str] | None = None,
    ) -> TuiSettings:
        """Settings from the config file, overridden by ``--no-bell``, ``--typing``, etc."""
        return cls(
            bell=config.bell and not no_bell,
            theme=resolve_theme(config.theme),
            typing=config.typing or typing,
            notify=config.notify or notify,
            notify_text=config.notify_text,
            room=room or (lambda: ""),
        )
