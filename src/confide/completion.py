"""``confide completion bash|zsh|fish``: a shell completion script.

The script is generated from the same argparse parser the command uses
(``cli.build_parser``) by ``shtab``, so it always knows every subcommand
and option. Options that take a file (``--log``, ``--code-file``,
``--password-file``, ``--identity``, ``receive --dir``) and ``send``'s PATHs
complete file names; the others complete nothing
(they take a value the user types). ``shtab`` is imported only here, when a
script is asked for, so ``confide --help`` stays fast.
"""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh", "fish")
FILE_OPTIONS = frozenset({"log", "code_file", "password_file", "identity", "paths", "dir"})
"""``dest`` of the options whose value is a file name."""


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for ``shell`` (one of ``SHELLS``)."""
    import shtab

    _mark_files(parser, shtab.FILE)
    text: str = shtab.complete(parser, shell=shell)
    return text


def _mark_files(parser: argparse.ArgumentParser, files: object) -> None:
    """Tell shtab which options (in every subcommand) complete file names."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                _mark_files(sub, files)
        elif action.dest in FILE_OPTIONS:
            action.complete = files  # type: ignore[attr-defined]
