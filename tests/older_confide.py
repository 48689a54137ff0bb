"""``confide`` as the release before protocol version 4 speaks it: versions 1 to 3 only.

Run as ``python tests/older_confide.py ARGS``, as ``confide ARGS`` would be. It
is the real confide, every layer and the real network path, with one change
made before it starts: a ``Connection`` offers the versions of the release
before issue 16, ``(1, 2, 3)``, by default, so every handshake it runs (as a
host or a joiner, and its resumes) is the one an older peer runs, without the
ML-KEM step. The end-to-end tests of issue 16 start it through
``proc.Launcher`` (``command=OLDER``) as the version-3 peer.
"""

from __future__ import annotations

import sys

from confide.protocol.connection import Connection

OLDER_VERSIONS = (1, 2, 3)


def older() -> None:
    """Make every ``Connection`` offer ``OLDER_VERSIONS`` unless told otherwise."""
    defaults = Connection.__init__.__kwdefaults__
    assert defaults is not None
    assert "versions" in defaults
    defaults["versions"] = OLDER_VERSIONS


if __name__ == "__main__":
    older()
    from confide.cli import main

    sys.exit(main())
