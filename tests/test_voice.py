"""Voice calls through the Twilio Calls API, against a local server."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amends.delivery.channels.base import Message, Outcome, SendResult, channel_class
from amends.delivery.channels.voice import VoiceChannel, say_language, twiml
from amends.delivery.ratelimit import reset_limiters
from tests.provider_servers import StubServer, fake_twilio
from tests.test_sms import SID, TOKEN, settings_for


@pytest.fixture
def twilio() -> Iterator[StubServer]:
    reset_limiters()
    with fake_twilio(SID, TOKEN).running() as server:
        yield server
    reset_limiters()


def call(n: int, locale: str, text: str, address: str = "+34600000001") -> Message:
    return Message(delivery_id=n, key=f"c{n}", address=address, locale=locale, text=text)


def send(settings: object, messages: list[Message]) -> list[SendResult]:
    async def run() -> list[SendResult]:
        channel = channel_class("voice")(settings)  # type: ignore[call-arg]
        try:
            return await channel.send(messages)
        finally:
            await channel.close()

    return asyncio.run(run())


def test_calls_with_twiml_in_the_customers_language(twilio: StubServer) -> None:
    assert channel_class("voice") is VoiceChannel
    settings = settings_for(twilio.url, voice_name="Polly.Lucia", voice_per_second=20.0)
    results = send(
        settings,
        [
            call(1, "es", 'Su sitio "web" & correo <caídos>'),
            call(2, "en", "Your site is down", "+14155550100"),
        ],
    )
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    assert all(r.provider_id and r.provider_id.startswith("CA") for r in results)
    forms = {r.form["To"]: r.form for r in twilio.received}
    first = twilio.received[0]
    assert first.path == f"/2010-04-01/Accounts/{SID}/Calls.json"
    assert first.form["From"] == "+34910000000"
    assert first.form["StatusCallback"].endswith("/api/v1/providers/twilio/status")
    says = ET.fromstring(forms["+34600000001"]["Twiml"]).findall("Say")
    assert says[0].get("language") == "es-ES" and says[0].get("voice") == "Polly.Lucia"
    assert says[0].text == 'Su sitio "web" & correo <caídos>'
    assert ET.fromstring(forms["+14155550100"]["Twiml"]).find("Say").get("language") == "en-US"  # type: ignore[union-attr]


def test_rejected_number_fails(twilio: StubServer) -> None:
    results = send(settings_for(twilio.url), [call(1, "en", "hello", address="12")])
    assert results[0].outcome is Outcome.FAILED and "21211" in (results[0].error or "")


def test_voice_needs_a_calling_number() -> None:
    with pytest.raises(ValueError, match="twilio_from"):
        VoiceChannel(settings_for("http://127.0.0.1:9", twilio_from=""))


@pytest.mark.parametrize(
    ("locale", "language"),
    [("es", "es-ES"), ("es_MX", "es-MX"), ("es-ES", "es-ES"), ("en", "en-US"), ("en-GB", "en-GB"),
     ("fr", "en-US")],
)  # fmt: skip
def test_language_from_locale(locale: str, language: str) -> None:
    table = {"es": "es-ES", "en": "en-US", "es-MX": "es-MX"}
    assert say_language(locale, table) == language


@given(st.text(min_size=1).filter(lambda t: t.strip() and "\x00" not in t))
def test_twiml_is_well_formed_for_any_script(script: str) -> None:
    # XML 1.0 cannot carry most control characters; those are not in call scripts.
    clean = "".join(
        c
        for c in script
        if c in "\t\n\r"
        or (
            ord(c) >= 0x20
            and ord(c) not in range(0xD800, 0xE000)
            and ord(c) not in (0xFFFE, 0xFFFF)
        )
    )
    if not clean.strip():
        return
    root = ET.fromstring(twiml(clean, "es-ES", 'Polly."x"'))
    assert root.tag == "Response"
    says = root.findall("Say")
    assert len(says) == 2 and says[0].get("voice") == 'Polly."x"'
    # XML normalises \r\n and \r to \n when parsing
    assert says[0].text == clean.strip().replace("\r\n", "\n").replace("\r", "\n")
