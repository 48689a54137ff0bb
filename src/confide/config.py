"""The user's config file: defaults for flags, read once at start-up.

The file is ``config.toml`` in the platform's config dir (``platformdirs``:
``~/.config/confide`` on Linux, ``~/Library/Application Support/confide`` on
macOS, ``%APPDATA%\\confide`` on Windows); ``$CONFIDE_CONFIG`` names another
file. It is read with ``tomllib`` (imported only when there is a file to
read: start-up without one skips it). A missing file means all defaults.
Every key is optional::

    nick = "alice"          # default --name
    bell = true             # ring the terminal bell on a mention (--no-bell)
    theme = "dark"          # dark, light or mono (NO_COLOR forces mono)
    typing = false          # offer a typing indicator (both sides must opt in)
    notify = false          # desktop notification on a mention when unfocused (--notify)
    notify_text = false     # ...with the message text in it
    port = 7100             # default --port for confide host
    relay = "relay.example:7200"  # default relay, HOST:PORT (several nodes: "a:7200,b:7200")
    log_dir = "~/chat-logs" # keep a transcript (confide-YYYY-MM-DD.log, mode 0600) here;
                            # unset by default: confide keeps nothing (--log FILE wins)
    downloads = "~/Downloads"  # where received files go: files accepted in a chat, and
                            # confide receive (--dir wins); default: the platform's
                            # downloads folder in a chat, the current folder for receive
    require_pq = false      # refuse peers without the post-quantum key exchange (--require-pq)

A value of the wrong type, or a file that is not TOML, is a usage error
(exit 2) naming the file; an unknown key is reported by ``--print-config``
and otherwise ignored, so a newer file still works with an older confide.
Command-line flags always win over the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confide.errors import UsageError
from confide.net import DEFAULT_PORT, MAX_PORT

APP_NAME = "confide"
FILE_NAME = "config.toml"
THEMES = ("dark", "light", "mono")


@dataclass(frozen=True)
class Config:
    """What the config file says, with defaults for what it leaves out."""

    nick: str | None = None
    bell: bool = True
    theme: str = "dark"
    typing: bool = False
    notify: bool = False
    notify_text: bool = False
    port: int = DEFAULT_PORT
    relay: str | None = None
    log_dir: str | None = None
    downloads: str | None = None
    require_pq: bool = False
    path: Path | None = None  # the file these came from (None: defaults only)
    ignored: tuple[str, ...] = field(default=())  # unknown keys in the file

    def values(self) -> dict[str, Any]:
        """The settings themselves (not where they came from), in file order."""
        return {name: getattr(self, name) for name in _KEYS}


_KEYS: dict[str, type | tuple[type, ...]] = {
    "nick": str,
    "bell": bool,
    "theme": str,
    "typing": bool,
    "notify": bool,
    "notify_text": bool,
    "port": int,
    "relay": str,
    "log_dir": str,
    "downloads": str,
    "require_pq": bool,
}


def config_path() -> Path:
    """Where the config file is (or would be): ``$CONFIDE_CONFIG`` or the platform dir."""
    override = os.environ.get("CONFIDE_CONFIG")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False) / FILE_NAME


def load(path: Path | None = None) -> Config:
    """Read the config file (``config_path()`` unless given); defaults if it does not exist."""
    path = config_path() if path is None else path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
    return parse(data, path)


def parse(data: dict[str, Any], path: Path | None = None) -> Config:
    """Check a parsed TOML table and turn it into a ``Config``."""
    where = f"config file {path}" if path else "config"
    known: dict[str, Any] = {}
    for key, value in data.items():
        kind = _KEYS.get(key)
        if kind is None:
            continue
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            name = kind.__name__ if isinstance(kind, type) else "value"
            raise UsageError(f"{where}: {key} must be a {_TOML_NAMES.get(name, name)}")
        known[key] = value
    _check_values(known, where)
    ignored = tuple(sorted(k for k in data if k not in _KEYS))
    return Config(**known, path=path, ignored=ignored)


_TOML_NAMES = {"str": "string", "bool": "boolean (true or false)", "int": "integer"}


def _check_values(known: dict[str, Any], where: str) -> None:
    if "theme" in known and known["theme"] not in THEMES:
        raise UsageError(f"{where}: theme must be one of {', '.join(THEMES)}")
    if "port" in known and not 0 <= known["port"] <= MAX_PORT:
        raise UsageError(f"{where}: port must be between 0 and {MAX_PORT}")
    if "nick" in known:
        from confide.protocol.nicks import nick_problem

        problem = nick_problem(known["nick"])
        if problem is not None:
            raise UsageError(f"{where}: nick: {problem}")
    if "log_dir" in known and not known["log_dir"].strip():
        raise UsageError(f"{where}: log_dir must not be empty (leave it out to keep no log)")
    if "downloads" in known and not known["downloads"].strip():
        raise UsageError(f"{where}: downloads must not be empty (leave it out for the default)")
    if "relay" in known:
        from confide.cli_relay import parse_relays

        try:
            parse_relays(known["relay"])
        except UsageError as exc:
            raise UsageError(f"{where}: relay: {exc}") from None


def downloads_dir(config: Config) -> Path | None:
    """The folder files accepted in a chat go to (None: the platform's downloads folder)."""
    return Path(config.downloads).expanduser() if config.downloads else None


def describe(config: Config, path: Path | None = None) -> str:
    """The text ``confide --print-config`` prints: where the file is, then every setting."""
    path = path or config.path or config_path()
    state = "" if config.path is not None else "  (not found: all defaults)"
    lines = [f"# config file: {path}{state}"]
    for key, value in config.values().items():
        if value is None:
            lines.append(f"# {key} is not set")
        else:
            lines.append(f"{key} = {_toml(value)}")
    lines.extend(f"# ignored unknown key: {key}" for key in config.ignored)
    return "\n".join(lines)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    import json

    return json.dumps(str(value), ensure_ascii=False)  # JSON escapes are valid TOML


__all__ = ["THEMES", "Config", "config_path", "describe", "load", "parse"]
