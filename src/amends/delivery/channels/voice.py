"""Voice: an automated call that reads a short script in the customer's language.

Twilio Calls API: ``POST …/Calls.json`` with ``To``, ``From``, ``Twiml`` (the
instructions inline, so no TwiML server is needed) and ``StatusCallback``.
The script is read twice, a pause between, because the first words of a call
are often lost while the person puts the phone to their ear.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from amends.config import Settings
from amends.delivery.channels.base import Limits, Message, Outcome, SendResult, register
from amends.delivery.channels.http import HttpChannel
from amends.delivery.channels.twilio import TwilioAccount, resource_sid
from amends.delivery.ratelimit import RateLimiter, limiter_for

if TYPE_CHECKING:
    import httpx

DEFAULT_LANGUAGES = {"es": "es-ES", "en": "en-US"}
MAX_SCRIPT = 1000  # characters; a call is no place for a long text


def say_language(locale: str, languages: dict[str, str] | None = None) -> str:
    """``<Say language>`` for a locale: es → es-ES, en → en-US (configurable), es_MX → es-MX."""
    table = languages or DEFAULT_LANGUAGES
    locale = locale.replace("_", "-")
    if locale in table:
        return table[locale]
    base, _, region = locale.partition("-")
    if region:  # a locale with its region says more than the table's default
        return f"{base.lower()}-{region.upper()}"
    return table.get(base.lower()) or table.get("en", "en-US")


def twiml(script: str, language: str, voice: str = "", *, repeat: int = 2) -> str:
    """The call's TwiML: ``<Say>`` the script (XML-escaped), ``repeat`` times."""
    attributes = f" language={quoteattr(language)}"
    if voice:
        attributes += f" voice={quoteattr(voice)}"
    say = f"<Say{attributes}>{escape(script.strip())}</Say>"
    body = '<Pause length="1"/>'.join([say] * repeat)
    return f"<Response>{body}</Response>"


@register("voice")
class VoiceChannel(HttpChannel):
    """One Twilio call per message; the provider id is the CallSid."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: httpx.AsyncClient | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(
            limiter
            or limiter_for("voice", "twilio", settings.voice_per_second, settings.voice_per_day),
            concurrency=settings.http_concurrency,
            client=client,
        )
        self.limits = Limits(per_second=settings.voice_per_second, per_day=settings.voice_per_day)
        self.account = TwilioAccount.from_settings(settings)
        if not self.account.sender:
            raise ValueError("twilio_from must be set for voice calls (the number that calls)")
        self.voice = settings.voice_name
        self.languages = dict(settings.voice_languages)
        self._url = self.account.url("Calls")

    async def request(self, message: Message) -> httpx.Response | SendResult:
        script = message.text.strip()
        if not script:
            return SendResult(message.delivery_id, Outcome.FAILED, error="empty call script")
        if len(script) > MAX_SCRIPT:
            script = script[:MAX_SCRIPT].rsplit(" ", 1)[0]
        form = {
            "To": message.address,
            "Twiml": twiml(script, say_language(message.locale, self.languages), self.voice),
            "From": self.account.sender,
        }
        if self.account.status_callback:
            form["StatusCallback"] = self.account.status_callback
        return await self.client.post(self._url, data=form, auth=self.account.auth)

    def accepted(self, message: Message, response: httpx.Response) -> SendResult:
        return SendResult(message.delivery_id, Outcome.SENT, provider_id=resource_sid(response))
