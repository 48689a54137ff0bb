"""Allow ``python -m confide``."""

from confide.cli import main

raise SystemExit(main())
