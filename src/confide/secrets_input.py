"""Reading codes and passwords without ever taking them as bare arguments.

A secret comes from a file (``--code-file``/``--password-file``), an
environment variable (``CONFIDE_CODE``/``CONFIDE_PASSWORD``) or a no-echo
prompt on the controlling terminal. ``ps`` shows none of these.

The environment is inherited by every child process (ssh, in tunnel mode),
so ``take_environment`` removes both variables from it as soon as the
command starts and keeps their raw bytes here; ``secret_from`` reads them
from that store. ``child_environment`` is the environment to give a child,
built without them even if something set them again.

A secret must be valid UTF-8: a file or variable that is not is a usage
error (exit 2) named in one line, never decoded with replacement
characters (two different bad passwords would become the same one) and
never with the codec's byte positions.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from confide.errors import UsageError

MAX_SECRET_FILE = 4096
SECRET_VARIABLES = ("CONFIDE_CODE", "CONFIDE_PASSWORD")

_taken: dict[str, bytes] = {}
"""The raw values ``take_environment`` removed from the environment."""


def take_environment() -> None:
    """Remove ``CONFIDE_CODE`` and ``CONFIDE_PASSWORD`` from the environment, keeping them here."""
    for name in SECRET_VARIABLES:
        value = _pop_variable(name)
        if value is not None:
            _taken[name] = value


def _pop_variable(name: str) -> bytes | None:
    """Remove ``name`` from ``os.environ`` (and the real environment); its raw bytes."""
    if os.supports_bytes_environ:
        return os.environb.pop(name.encode(), None)
    value = os.environ.pop(name, None)
    return None if value is None else value.encode("utf-8", "surrogateescape")


def child_environment() -> dict[str, str]:
    """Our environment without the secret variables: what a child process gets."""
    return {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{where} is not valid UTF-8") from None


def read_secret_file(path: str, what: str) -> str:
    """The first line of ``path``, without its newline."""
    try:
        with Path(path).open("rb") as f:
            data = f.read(MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_SECRET_FILE:
        raise UsageError(f"{what} file {path} is too large")
    lines = _decode(data, f"{what} file {path}").splitlines()
    text = lines[0].strip("\r\n") if lines else ""
    if not text.strip():
        raise UsageError(f"{what} file {path} is empty")
    return text


def has_terminal() -> bool:
    """Whether a no-echo prompt is possible."""
    if sys.stdin.isatty():
        return True
    try:
        with open("/dev/tty"):
            return True
    except OSError:
        return False


def prompt_secret(prompt: str, hint: str, *, confirm: bool = False) -> str:
    """Ask on the terminal without echo; ``UsageError`` with ``hint`` if there is none.

    With ``confirm`` (a host choosing a password) it is asked twice; if the
    two differ, that is said and both are asked again, at most
    ``CONFIRM_TRIES`` times.
    """
    if not has_terminal():
        raise UsageError(f"no terminal to ask for the {prompt.rstrip(': ')}: {hint}")
    what = prompt.rstrip(": ")
    for _ in range(CONFIRM_TRIES if confirm else 1):
        value = _ask_hidden(prompt, what)
        if not confirm or _ask_hidden(f"{what} again: ", what) == value:
            return value
        print(f"the two {what}s differ; try again", file=sys.stderr, flush=True)
    raise UsageError(f"the {what}s typed did not match {CONFIRM_TRIES} times")


CONFIRM_TRIES = 3
"""How often a host may mistype the confirmation of a new password."""


def _ask_hidden(prompt: str, what: str) -> str:
    try:
        value = getpass.getpass(prompt)
    except EOFError:
        raise UsageError(f"no {what} given") from None
    if not value.strip():
        raise UsageError(f"empty {what}")
    return value


def secret_from(
    file: str | None, env: str, prompt: str, what: str, *, confirm: bool = False
) -> str:
    """A secret from ``file``, else the environment variable ``env``, else a prompt.

    ``confirm``: a prompted secret is asked twice (see ``prompt_secret``).
    """
    if file:
        return read_secret_file(file, what)
    take_environment()  # in case the command did not yet
    raw = _taken.get(env)
    value = _decode(raw, env) if raw is not None else ""
    if value.strip():
        return value
    return prompt_secret(prompt, f"use --{what}-file FILE or set {env}", confirm=confirm)
