"""Delivery: the ledger of every message owed to a recipient, and the channels that carry it."""
