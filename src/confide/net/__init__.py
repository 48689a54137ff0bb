"""The asyncio layer: the only code that touches sockets and subprocesses."""
