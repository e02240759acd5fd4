"""Chat: Slack, Microsoft Teams, Discord (and the rest of Apprise's services).

A chat subscriber's address is an Apprise URL, as the chat service hands it
out or in Apprise's own form: ``https://hooks.slack.com/services/T…/B…/…`` or
``slack://T…/B…/…``; ``https://discord.com/api/webhooks/ID/TOKEN`` or
``discord://ID/TOKEN``; Teams through Power Automate workflows
(``workflows://HOST:PORT/WORKFLOW/SIGNATURE``; Microsoft retired the old
Office 365 connectors and Apprise 2 with them). ``json://host/path`` posts a
plain JSON body to any HTTP endpoint.

Apprise is synchronous (``requests``), so each notification runs in a worker
thread; the (chat, apprise) limiter keeps the pace. Apprise answers only
success or failure: a failure is a RETRY (a dead endpoint is disabled by the
subscriber service after repeated failures), an URL Apprise cannot parse is
FAILED. Apprise (with its plugins, ~70 ms) is imported when a chat message
is sent or an address checked, not when the channels register for a send
that may have no chat subscriber at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from amends.config import Settings
from amends.delivery.channels.base import Channel, Limits, Message, Outcome, SendResult, register
from amends.delivery.channels.pacing import send_paced
from amends.delivery.ratelimit import RateLimiter, limiter_for


def apprise_notify(url: str, body: str, title: str) -> tuple[bool, str | None]:
    """Send one notification to one Apprise URL: (accepted, error)."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        return False, "not an Apprise URL this version understands"
    with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        ok = bool(notifier.notify(body=body, title=title))
        log = captured.getvalue().strip()
    if ok:
        return True, None
    return False, (log.splitlines()[-1][:300] if log else "the service did not accept it")


def is_chat_url(url: str) -> bool:
    """Whether Apprise can send to ``url`` (for validating a subscriber's address)."""
    import apprise

    return apprise.Apprise.instantiate(url) is not None


@register("chat")
class ChatChannel(Channel):
    """One Apprise notification per message; the message subject is its title."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        limiter: RateLimiter | None = None,
        concurrency: int = 8,
    ) -> None:
        per_second = settings.chat_per_second if settings else None
        self.limiter = limiter or limiter_for("chat", "apprise", per_second)
        self.limits = Limits(per_second=per_second)
        self.concurrency = concurrency

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        return await send_paced(
            messages, self._send_one, limiter=self.limiter, concurrency=self.concurrency
        )

    async def _send_one(self, message: Message) -> SendResult:
        if not is_chat_url(message.address):
            return SendResult(
                message.delivery_id, Outcome.FAILED, error="not a chat URL Apprise knows"
            )
        ok, error = await asyncio.to_thread(
            apprise_notify, message.address, message.text, message.subject
        )
        outcome = Outcome.SENT if ok else Outcome.RETRY
        return SendResult(message.delivery_id, outcome, error=error)
