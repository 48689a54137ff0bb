"""confide: an end-to-end encrypted terminal chat keyed by a short code or password."""

__version__ = "0.1.0"
