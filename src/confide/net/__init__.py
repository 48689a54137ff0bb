"""The asyncio layer: the only code that touches sockets and subprocesses.

The package itself holds only the host's port numbers, so the config file
and the CLI can name them without loading the asyncio modules.
"""

DEFAULT_PORT = 7100
"""The port ``confide host`` listens on unless told otherwise."""
MAX_PORT = 65535
"""The highest TCP port number (0 asks the system for a free one)."""
