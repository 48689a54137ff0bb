"""The relay's wire format, shared by the relay server and the relay client.

``routing`` builds and parses the relay's small routing frames (the header,
the requests and answers, the ``CLOSE`` reasons). It is pure code: both
``confide.relay`` (the server) and ``confide.net.relay_client`` (a host or a
joiner reaching a relay) import it, and neither imports the other.
docs/RELAY.md documents every byte.
"""
