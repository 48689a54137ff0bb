"""End to end: a code given to the wrong command ends with one plain line, not a hang.

- ``confide receive`` with the code of a ``confide host`` chat: the host's
  ``Welcome`` (every chat host greets with it first) tells the receiver it
  joined a chat; it says so, tells the host it leaves, and exits 1. The
  host shows it left and ends as when a chat's only joiner leaves.
- ``confide join`` with the code of a ``confide send``: an offer before any
  ``Welcome`` tells the joiner it joined a one-shot sender; it says so and
  exits 1, and the sender says the joiner left (exit 1, nothing sent).
"""

from __future__ import annotations

import os
from pathlib import Path

from proc import Launcher, Proc
from send_receive_support import random_file, start_receive, start_send

FOR_A_CHAT = "that code is for a chat, not a file: use confide join"
FOR_A_FILE = "that code is for a file transfer: use confide receive"
ENDS_WITHIN = 20.0
"""Seconds within which each end is done (a hang would wait forever)."""


def _error_lines(proc: Proc) -> list[str]:
    return [x for x in proc.err_lines if x.startswith(("confide:", "error:"))]


def test_receive_with_a_chat_code_says_use_join(confide: Launcher, tmp_path: Path) -> None:
    host = confide.host("--name", "alice")
    inbox = tmp_path / "in"
    inbox.mkdir()
    assert host.code is not None
    receiver = start_receive(confide, host.at, host.code, inbox, "--name", "bob")

    assert receiver.wait(ENDS_WITHIN) == 1, receiver
    assert _error_lines(receiver) == [f"confide: {FOR_A_CHAT}"], receiver
    assert "Traceback" not in receiver.err
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait(ENDS_WITHIN) == 0, host.proc  # as when a chat's only joiner leaves
    assert os.listdir(inbox) == []


def test_join_with_a_send_code_says_use_receive(confide: Launcher, tmp_path: Path) -> None:
    source = tmp_path / "doc.bin"
    random_file(source, 1000)
    sender = start_send(confide, "--name", "alice", str(source))
    joiner = confide.join(sender.at, "--name", "bob", code=sender.code)

    assert joiner.wait(ENDS_WITHIN) == 1, joiner
    assert _error_lines(joiner) == [f"error: {FOR_A_FILE}"], joiner
    assert "Traceback" not in joiner.err
    assert sender.proc.wait(ENDS_WITHIN) == 1, sender.proc
    sender.proc.expect_err(r"^bob left: ran confide join: files need confide receive$")
    assert "received everything" not in sender.proc.err
