"""The pure protocol core: codes, handshake, key schedule, records, framing, messages.

Nothing in this package touches sockets, asyncio, threads, clocks or the OS
random source directly: bytes go in, events and bytes come out, and
randomness is passed in. ``tests/test_boundary.py`` checks that.
"""
