"""E-mail: rendered notices as MIME over SMTP to the provider's relay.

The relay (Postfix, KumoMTA, a provider's submission port) owns MX routing,
DKIM, throttling per destination and retries after it accepted a message; this
channel only hands messages over fast and records the relay's answer per
recipient:

- 2xx -> SENT, with the relay's queue id as provider id;
- 4xx -> RETRY; 5xx -> FAILED;
- no answer (connection lost, timeout) -> RETRY. The message may have been
  accepted just before the drop; its Message-ID is deterministic, so a resend
  is recognisably the same message.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Sequence

from amends.config import Settings
from amends.delivery.channels.base import Channel, Limits, Message, Outcome, SendResult, register
from amends.delivery.mime import MimeSkeleton, Sender, check_address
from amends.delivery.smtp import Envelope, Reply, SmtpConfig, SmtpPool
from amends.errors import ValidationFailed


def outcome_of(reply: Reply) -> Outcome:
    """2xx sent, 5xx failed for good, everything else (4xx, no answer) worth a retry."""
    if 200 <= reply.code < 300:
        return Outcome.SENT
    if 500 <= reply.code < 600:
        return Outcome.FAILED
    return Outcome.RETRY


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """None with ``smtp_starttls=off``: no TLS, and no context to build (loading
    the system's CA certificates costs tens of ms, before the first e-mail)."""
    if settings.smtp_starttls == "off":
        return None
    return _context_for(str(settings.smtp_ca_file) if settings.smtp_ca_file else None)


@functools.cache
def _context_for(cafile: str | None) -> ssl.SSLContext:
    """One per CA file and process: every e-mail channel (and connection) shares it."""
    return ssl.create_default_context(cafile=cafile)


@register("email")
class EmailChannel(Channel):
    """SMTP to one relay over ``settings.smtp_connections`` persistent, pipelined connections.

    ``EmailChannel(settings)``; ``ssl_context`` overrides the one made from
    ``smtp_ca_file`` (tests with a throw-away CA).
    """

    limits = Limits(max_batch=1000)

    def __init__(self, settings: Settings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.sender = Sender(
            address=settings.mail_from,
            name=settings.mail_from_name,
            message_id_domain=settings.message_id_domain,
            unsubscribe_mailto=settings.unsubscribe_mailto,
        )
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        self.pool = SmtpPool(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                tls=settings.smtp_starttls,
                ssl_context=ssl_context or _ssl_context(settings),
                username=settings.smtp_username,
                password=password,
                timeout=settings.smtp_timeout,
                helo_name=settings.message_id_domain,
                connections=settings.smtp_connections,
            )
        )
        self._skeletons: dict[str, MimeSkeleton] = {}

    def skeleton(self, variant: str) -> MimeSkeleton:
        """The per-variant MIME skeleton, built on first use."""
        found = self._skeletons.get(variant)
        if found is None:
            found = self._skeletons[variant] = MimeSkeleton(self.sender, variant)
        return found

    def render(self, message: Message) -> bytes:
        """The message as it goes on the wire (before dot-stuffing)."""
        return self.skeleton(message.variant).build(
            key=message.key,
            address=message.address,
            name=message.name,
            subject=message.subject,
            text=message.text,
            html=message.html,
            locale=message.locale,
            unsubscribe_url=message.unsubscribe_url,
        )

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        envelopes: list[Envelope] = []
        positions: list[int] = []
        for position, message in enumerate(messages):
            try:
                check_address(message.address)
                data = self.render(message)
            except (ValidationFailed, UnicodeError) as exc:
                results[position] = SendResult(message.delivery_id, Outcome.FAILED, error=str(exc))
                continue
            envelope = Envelope(self.sender.address, message.address, data, message.key)
            envelopes.append(envelope)
            positions.append(position)
        if envelopes:
            replies = await self.pool.deliver(envelopes)
            for position, reply in zip(positions, replies, strict=True):
                outcome = outcome_of(reply)
                results[position] = SendResult(
                    messages[position].delivery_id,
                    outcome,
                    provider_id=reply.queue_id if outcome is Outcome.SENT else None,
                    error=None if outcome is Outcome.SENT else str(reply),
                )
        return [r for r in results if r is not None]

    async def close(self) -> None:
        await self.pool.close()
