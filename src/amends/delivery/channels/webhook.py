"""Webhooks: JSON events for subscribers, signed per the Standard Webhooks spec.

Each POST carries ``webhook-id`` (the ledger row's deterministic key, so a
receiver drops a retried duplicate), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``
under the ``whsec_`` secret). Signing is the ``standardwebhooks`` library's
own ``Webhook.sign``, so receivers using any Standard Webhooks library verify
it. 2xx is SENT; 429, 5xx and timeouts are RETRY (honouring Retry-After);
other 4xx FAILED. Repeated failures disable the endpoint
(``amends.delivery.endpoints``).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

from amends.config import Settings
from amends.delivery.channels.base import Limits, Message, Outcome, SendResult, register
from amends.delivery.channels.http import HttpChannel
from amends.delivery.ratelimit import RateLimiter, limiter_for

if TYPE_CHECKING:
    import httpx
    from standardwebhooks.webhooks import Webhook

USER_AGENT = "amends-webhooks/1"


def event_body(message: Message) -> str:
    """The JSON body: the message's event payload, else its text in a minimal event."""
    payload = message.payload
    if payload is None:
        payload = {"type": "notice", "data": {"text": message.text, "subject": message.subject}}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def signed_headers(
    signer: Webhook, msg_id: str, body: str, *, now: dt.datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery."""
    timestamp = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signer.sign(msg_id=msg_id, timestamp=timestamp, data=body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@register("webhook")
class WebhookChannel(HttpChannel):
    """One signed POST per message to the subscriber's URL (``Message.address``)."""

    pause_on_429 = False  # the Retry-After goes back to the ledger for that row only

    def __init__(
        self,
        settings: Settings,
        *,
        client: httpx.AsyncClient | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(
            limiter or limiter_for("webhook", "http", settings.webhook_per_second),
            timeout=settings.webhook_timeout,
            concurrency=settings.http_concurrency,
            client=client,
        )
        secret = settings.webhook_secret.get_secret_value()
        if not secret.startswith("whsec_"):
            raise ValueError("webhook_secret must be a Standard Webhooks secret: whsec_<base64>")
        from standardwebhooks.webhooks import Webhook

        self.signer = Webhook(secret)
        self.limits = Limits(per_second=settings.webhook_per_second)

    def signer_for(self, message: Message) -> Webhook | None:
        return self.signer

    async def request(self, message: Message) -> httpx.Response | SendResult:
        import httpx

        url = httpx.URL(message.address)
        if url.scheme not in ("http", "https") or not url.host:
            return SendResult(message.delivery_id, Outcome.FAILED, error="not an http(s) URL")
        signer = self.signer_for(message)
        if signer is None:
            return SendResult(message.delivery_id, Outcome.FAILED, error="the endpoint is gone")
        body = event_body(message)
        headers = signed_headers(signer, message.key, body)
        return await self.client.post(url, content=body.encode(), headers=headers)


@register("billing")
class BillingWebhookChannel(WebhookChannel):
    """Credit events to the provider's billing endpoints, each signed with the
    endpoint's own secret (``Message.signing_secret``): same HTTP handling, pace
    and verdicts as subscriber webhooks, and no installation-wide secret needed."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: httpx.AsyncClient | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        HttpChannel.__init__(
            self,
            limiter or limiter_for("billing", "http", settings.webhook_per_second),
            timeout=settings.webhook_timeout,
            concurrency=settings.http_concurrency,
            client=client,
        )
        self.limits = Limits(per_second=settings.webhook_per_second)
        self._signers: dict[str, Webhook] = {}

    def signer_for(self, message: Message) -> Webhook | None:
        secret = message.signing_secret
        if not secret:  # the endpoint was removed after the event was owed to it
            return None
        if secret not in self._signers:
            from standardwebhooks.webhooks import Webhook

            self._signers[secret] = Webhook(secret)
        return self._signers[secret]
