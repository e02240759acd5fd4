"""Channels carry rendered messages to a provider; each registers itself by name.

Core code never imports a concrete channel: it asks :func:`channel_class`.
"""

from amends.delivery.channels.base import (
    Channel,
    Message,
    Outcome,
    SendResult,
    channel_class,
    register,
    registered,
)

__all__ = [
    "Channel",
    "Message",
    "Outcome",
    "SendResult",
    "channel_class",
    "register",
    "registered",
]
