"""The Textual themes confide draws with: Textual's dark and light, and its own mono.

``MONO_THEME`` is black and white; with it (and so with ``NO_COLOR``)
``ConfideApp`` drops every colour on the way out, so the terminal's own
colours show. ``TEXTUAL_THEMES`` maps the ``theme`` setting to a theme name.
"""

from __future__ import annotations

from textual.theme import Theme

MONO_THEME = Theme(
    name="confide-mono",
    primary="#ffffff",
    secondary="#c0c0c0",
    accent="#ffffff",
    foreground="#e0e0e0",
    background="#000000",
    surface="#101010",
    panel="#262626",
    warning="#ffffff",
    error="#ffffff",
    success="#ffffff",
    dark=True,
)
TEXTUAL_THEMES = {"dark": "textual-dark", "light": "textual-light", "mono": MONO_THEME.name}
