"""``confide relay``: a self-hostable rendezvous and forwarding server.

The relay pairs a host with its joiners by nameplate and forwards opaque
bytes between them. It reads only its own small routing frames
(``confide.wire.routing``), never the end-to-end records, so it sees no text, nicks,
code words or keys. ``server`` is the asyncio server, ``limits`` its
configurable limits, ``log`` its one-line-per-event log, ``command`` the
``confide relay`` subcommand, ``service`` the process (listening, signals).
With ``--redis`` a relay is one node of several: ``cluster`` routes its
requests through the shared directory, ``directory`` talks to Redis.
docs/RELAY.md documents every byte.
"""
