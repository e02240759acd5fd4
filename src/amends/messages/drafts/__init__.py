"""Notices an operator drafts, edits and sends from the console (docs/messages.md, "Drafts")."""
