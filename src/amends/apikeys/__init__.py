"""Scoped API keys: only a hash is stored; the key is shown once."""
