"""The chat session: nicknames, receipts, pings and leaving, over a secure channel."""
