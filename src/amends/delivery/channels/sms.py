"""SMS: the Twilio Messages API, or any SMS service Apprise knows.

``sms_provider`` chooses. Either way the text is cut to ``sms_max_segments``
parts first (GSM-7 versus UCS-2 aware, link kept whole: see ``segments``), and
the (sms, provider) rate limiter holds the configured pace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from amends.config import Settings
from amends.delivery.channels.base import Channel, Limits, Message, Outcome, SendResult, register
from amends.delivery.channels.http import HttpChannel
from amends.delivery.channels.pacing import send_paced
from amends.delivery.channels.twilio import TwilioAccount, resource_sid
from amends.delivery.ratelimit import RateLimiter, limiter_for
from amends.messages.segments import fit_sms

if TYPE_CHECKING:
    import httpx


def sms_text(message: Message, max_segments: int) -> str:
    """The message text cut to fit; a link in the payload (``url``) is kept whole."""
    link = (message.payload or {}).get("url")
    return fit_sms(message.text, str(link) if link else None, max_segments=max_segments)


class TwilioSms(HttpChannel):
    """One POST to Messages.json per message."""

    name = "sms"

    def __init__(
        self,
        account: TwilioAccount,
        limiter: RateLimiter,
        *,
        max_segments: int = 2,
        timeout: float = 10.0,
        concurrency: int = 50,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(limiter, timeout=timeout, concurrency=concurrency, client=client)
        self.account = account
        self.account.sender_fields()  # refuse to start without a sender, not per message
        self.max_segments = max_segments
        self._url = account.url("Messages")

    async def request(self, message: Message) -> httpx.Response | SendResult:
        try:
            body = sms_text(message, self.max_segments)
        except ValueError as exc:
            return SendResult(message.delivery_id, Outcome.FAILED, error=str(exc))
        form = {"To": message.address, "Body": body, **self.account.sender_fields()}
        if self.account.status_callback:
            form["StatusCallback"] = self.account.status_callback
        return await self.client.post(self._url, data=form, auth=self.account.auth)

    def accepted(self, message: Message, response: httpx.Response) -> SendResult:
        return SendResult(message.delivery_id, Outcome.SENT, provider_id=resource_sid(response))


class AppriseSms(Channel):
    """SMS through Apprise: ``url_template`` holds ``{to}`` for the number.

    Apprise answers only yes or no and keeps no provider id, so a "no" is a
    RETRY: it cannot tell a rejected number from an unreachable service.
    """

    name = "sms"

    def __init__(self, url_template: str, limiter: RateLimiter, *, max_segments: int = 2) -> None:
        if "{to}" not in url_template:
            raise ValueError("sms_apprise_url needs {to} where the phone number goes")
        self.url_template = url_template
        self.limiter = limiter
        self.max_segments = max_segments

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        return await send_paced(messages, self._send_one, limiter=self.limiter, concurrency=4)

    async def _send_one(self, message: Message) -> SendResult:
        from amends.delivery.channels.chat import apprise_notify

        try:
            body = sms_text(message, self.max_segments)
        except ValueError as exc:
            return SendResult(message.delivery_id, Outcome.FAILED, error=str(exc))
        url = self.url_template.replace("{to}", message.address.lstrip("+"))
        ok, error = await asyncio.to_thread(apprise_notify, url, body, "")
        return SendResult(message.delivery_id, Outcome.SENT if ok else Outcome.RETRY, error=error)


@register("sms")
class SmsChannel(Channel):
    """The SMS channel the dispatcher opens: picks the adapter from settings."""

    def __init__(self, settings: Settings, *, client: httpx.AsyncClient | None = None) -> None:
        limiter = limiter_for(
            "sms", settings.sms_provider, settings.sms_per_second, settings.sms_per_day
        )
        self.limits = Limits(
            per_second=settings.sms_per_second,
            per_day=settings.sms_per_day,
            extra={"max_segments": settings.sms_max_segments},
        )
        self.adapter: Channel
        if settings.sms_provider == "twilio":
            self.adapter = TwilioSms(
                TwilioAccount.from_settings(settings),
                limiter,
                max_segments=settings.sms_max_segments,
                concurrency=settings.http_concurrency,
                client=client,
            )
        elif settings.sms_provider == "apprise":
            self.adapter = AppriseSms(
                settings.sms_apprise_url, limiter, max_segments=settings.sms_max_segments
            )
        else:
            raise ValueError(f"unknown sms_provider {settings.sms_provider!r}: twilio or apprise")

    async def open(self) -> None:
        await self.adapter.open()

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        return await self.adapter.send(messages)

    async def close(self) -> None:
        await self.adapter.close()
