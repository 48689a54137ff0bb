"""Reading codes and passwords without ever taking them as bare arguments.

A secret comes from a file (``--code-file``/``--password-file``), an
environment variable (``CONFIDE_CODE``/``CONFIDE_PASSWORD``) or a no-echo
prompt on the controlling terminal. ``ps`` shows none of these.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from confide.errors import UsageError

MAX_SECRET_FILE = 4096


def read_secret_file(path: str, what: str) -> str:
    """The first line of ``path``, without its newline."""
    try:
        with Path(path).open("rb") as f:
            data = f.read(MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_SECRET_FILE:
        raise UsageError(f"{what} file {path} is too large")
    lines = data.decode("utf-8", "replace").splitlines()
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


def prompt_secret(prompt: str, hint: str) -> str:
    """Ask on the terminal without echo; ``UsageError`` with ``hint`` if there is none."""
    if not has_terminal():
        raise UsageError(f"no terminal to ask for the {prompt.rstrip(': ')}: {hint}")
    try:
        value = getpass.getpass(prompt)
    except EOFError:
        raise UsageError(f"no {prompt.rstrip(': ')} given") from None
    if not value.strip():
        raise UsageError(f"empty {prompt.rstrip(': ')}")
    return value


def secret_from(file: str | None, env: str, prompt: str, what: str) -> str:
    """A secret from ``file``, else the environment variable ``env``, else a prompt."""
    if file:
        return read_secret_file(file, what)
    value = os.environ.get(env, "")
    if value.strip():
        return value
    return prompt_secret(prompt, f"use --{what}-file FILE or set {env}")
