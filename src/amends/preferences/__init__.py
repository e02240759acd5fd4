"""Preferences: a recipient's own choice to stop hearing from us on a channel."""
