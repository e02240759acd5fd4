"""What every HTTP provider channel shares: a pooled client, the pace, the verdicts.

SMS, voice and webhooks all POST one request per message. This base opens one
``httpx.AsyncClient`` per channel (connections are reused across batches),
takes a slot from the (channel, provider) rate limiter before each request,
keeps at most ``concurrency`` requests in flight, and turns HTTP answers into
the ledger's three outcomes the same way everywhere:

- 2xx → SENT
- 429, 5xx, 408, timeouts, refused connections → RETRY (with ``Retry-After``);
  a 429 also pauses the provider for everyone sharing the limiter
- 401/403 → RETRY: the credentials are wrong for every message, an operator
  will fix them, and the messages must not be thrown away meanwhile
- other 4xx → FAILED (the provider rejected this message: bad number, bad URL)
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING

from amends.delivery.channels.base import Channel, Message, Outcome, SendResult
from amends.delivery.channels.pacing import send_paced
from amends.delivery.ratelimit import RateLimiter, parse_retry_after

if TYPE_CHECKING:
    import httpx

# httpx (with pygments, via its own CLI module) is imported when a request is
# made, not when the channels register: an e-mail-only send never needs it.

DEFAULT_429_PAUSE = 1.0  # seconds, when a 429 carries no Retry-After


def verdict(response: httpx.Response) -> tuple[Outcome, float | None]:
    """Outcome and retry delay for a provider's HTTP answer."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if 200 <= status < 300:
        return Outcome.SENT, None
    if status == 429:
        return Outcome.RETRY, retry_after if retry_after is not None else DEFAULT_429_PAUSE
    if status >= 500 or status in (401, 403, 408, 409, 425):
        return Outcome.RETRY, retry_after
    return Outcome.FAILED, None


def describe(response: httpx.Response) -> str:
    """A short error text for the ledger: status and the provider's own message."""
    detail = response.text[:300].strip()
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        code = f" {body['code']}" if body.get("code") else ""
        detail = f"{body['message']}{code}"
    return f"HTTP {response.status_code}: {detail}" if detail else f"HTTP {response.status_code}"


class HttpChannel(Channel, abc.ABC):
    """A channel that sends each message as one HTTP request."""

    #: A 429 pauses the whole provider account (SMS, voice). Webhooks go to
    #: many receivers: one busy receiver must not hold up the others.
    pause_on_429: bool = True

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        timeout: float = 10.0,
        concurrency: int = 50,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.limiter = limiter
        self.timeout = timeout
        self.concurrency = concurrency
        self._client = client
        self._owns_client = client is None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            limits = httpx.Limits(
                max_connections=self.concurrency, max_keepalive_connections=self.concurrency
            )
            self._client = httpx.AsyncClient(timeout=self.timeout, limits=limits)
        return self._client

    async def open(self) -> None:
        """Nothing yet: the client (httpx's import, an SSL context) is built by
        the first :meth:`send`, before its pace starts. Building it here made
        every dispatcher pay for it before its first e-mail, even when no row
        of this channel was owed (benchmarks/first_notice.py)."""

    async def close(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
        self._client = None

    @abc.abstractmethod
    async def request(self, message: Message) -> httpx.Response | SendResult:
        """Send one message: the provider's response, or a result decided before sending."""

    def accepted(self, message: Message, response: httpx.Response) -> SendResult:
        """A 2xx answer: the channel reads the provider's id from it."""
        return SendResult(message.delivery_id, Outcome.SENT)

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        _ = self.client  # build the client (SSL context: tens of ms) before the pace starts
        return await send_paced(
            messages, self._send_one, limiter=self.limiter, concurrency=self.concurrency
        )

    async def _send_one(self, message: Message) -> SendResult:
        import httpx

        try:
            answer = await self.request(message)
        except httpx.TimeoutException as exc:
            return SendResult(message.delivery_id, Outcome.RETRY, error=f"timeout: {exc!r}")
        except httpx.TransportError as exc:
            return SendResult(message.delivery_id, Outcome.RETRY, error=f"transport: {exc!r}")
        if isinstance(answer, SendResult):
            return answer
        outcome, retry_after = verdict(answer)
        if answer.status_code == 429 and retry_after and self.pause_on_429:
            self.limiter.pause(retry_after)
        if outcome is Outcome.SENT:
            return self.accepted(message, answer)
        return SendResult(
            message.delivery_id, outcome, error=describe(answer), retry_after=retry_after
        )
