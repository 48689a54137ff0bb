"""Copy the 80x24 main-screen snapshot to ``docs/screenshot.svg`` (the README's picture).

The picture comes from the snapshot suite, so it is always a real screen of
the real app. After a deliberate change to the interface::

    pytest tests/test_tui_snapshots.py --snapshot-update -n 0
    python scripts/update_screenshot.py

``tests/test_tui_snapshots.py`` fails while ``docs/screenshot.svg`` differs
from the snapshot, so the README cannot silently go stale.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "__snapshots__" / "test_tui_snapshots" / "test_main_screen_80x24.svg"
TARGET = ROOT / "docs" / "screenshot.svg"


def main() -> int:
    """Copy the snapshot; exit 1 if it does not exist yet."""
    if not SNAPSHOT.exists():
        print(f"no snapshot at {SNAPSHOT}: run the snapshot tests first", file=sys.stderr)
        return 1
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SNAPSHOT, TARGET)
    print(f"updated {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
