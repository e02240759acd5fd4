"""SMS through the Twilio Messages API, against a local server that checks the format."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator, Sequence

import pytest
from pydantic import SecretStr

from amends.config import Settings
from amends.delivery.channels.base import Message, Outcome, SendResult, channel_class
from amends.delivery.channels.sms import SmsChannel
from amends.delivery.ratelimit import reset_limiters
from amends.messages.segments import count_segments
from tests.provider_servers import StubServer, fake_twilio, json_sink, twilio_error

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "secret-token"


@pytest.fixture
def twilio() -> Iterator[StubServer]:
    reset_limiters()
    with fake_twilio(SID, TOKEN).running() as server:
        yield server
    reset_limiters()


def settings_for(base_url: str, **extra: object) -> Settings:
    values: dict[str, object] = {
        "twilio_account_sid": SID,
        "twilio_auth_token": SecretStr(TOKEN),
        "twilio_from": "+34910000000",
        "twilio_base_url": base_url,
        "public_url": "https://amends.example",
        "sms_per_second": 50.0,
    }
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


def sms(n: int, address: str = "+34600000001", text: str = "DNS caído", **kw: object) -> Message:
    return Message(delivery_id=n, key=f"k{n}", address=address, locale="es", text=text, **kw)  # type: ignore[arg-type]


def send(settings: Settings, messages: Sequence[Message]) -> list[SendResult]:
    async def run() -> list[SendResult]:
        channel = channel_class("sms")(settings)  # type: ignore[call-arg]
        await channel.open()
        try:
            return await channel.send(messages)
        finally:
            await channel.close()

    return asyncio.run(run())


def test_registered_and_sends_the_documented_request(twilio: StubServer) -> None:
    assert channel_class("sms") is SmsChannel
    results = send(settings_for(twilio.url), [sms(1), sms(2, "+34600000002")])
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    assert all(r.provider_id and r.provider_id.startswith("SM") for r in results)
    assert [r.delivery_id for r in results] == [1, 2]
    first = twilio.received[0]
    assert first.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert (
        first.headers["authorization"]
        == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    )
    assert first.form["From"] == "+34910000000"
    assert first.form["Body"] == "DNS caído"
    assert first.form["StatusCallback"] == ("https://amends.example/api/v1/providers/twilio/status")


def test_limits_are_declared_on_the_channel() -> None:
    limits = SmsChannel(settings_for("http://127.0.0.1:9", sms_per_day=1000)).limits
    assert (limits.per_second, limits.per_day, limits.extra["max_segments"]) == (50.0, 1000, 2)


def test_messaging_service_replaces_from(twilio: StubServer) -> None:
    settings = settings_for(twilio.url, twilio_messaging_service_sid="MG" + "1" * 32)
    assert send(settings, [sms(1)])[0].outcome is Outcome.SENT
    assert "From" not in twilio.received[0].form
    assert twilio.received[0].form["MessagingServiceSid"] == "MG" + "1" * 32


def test_long_text_is_cut_to_two_segments_keeping_the_link(twilio: StubServer) -> None:
    text = "Hemos detectado una interrupción del servicio DNS. " * 10
    url = "https://status.example.com/incidents/42"
    send(settings_for(twilio.url), [sms(1, text=text, payload={"url": url})])
    body = twilio.received[0].form["Body"]
    assert body.endswith(url) and count_segments(body) == 2


def test_invalid_number_fails_and_the_rest_go(twilio: StubServer) -> None:
    results = send(settings_for(twilio.url), [sms(1, "600 000 001"), sms(2)])
    assert results[0].outcome is Outcome.FAILED
    assert results[0].error and "21211" in results[0].error
    assert results[1].outcome is Outcome.SENT


def test_wrong_credentials_are_retried_not_dropped(twilio: StubServer) -> None:
    results = send(settings_for(twilio.url, twilio_auth_token=SecretStr("wrong")), [sms(1)])
    assert results[0].outcome is Outcome.RETRY and "20003" in (results[0].error or "")


def test_429_with_retry_after_pauses_the_provider(twilio: StubServer) -> None:
    twilio.answer_next(
        (429, {"Retry-After": "1"}, b'{"code": 20429, "message": "Too Many Requests"}')
    )
    settings = settings_for(twilio.url, http_concurrency=1)
    results = send(settings, [sms(1), sms(2), sms(3)])
    assert results[0].outcome is Outcome.RETRY and results[0].retry_after == 1
    assert [r.outcome for r in results[1:]] == [Outcome.SENT, Outcome.SENT]
    gap = twilio.received[1].at - twilio.received[0].at
    assert gap >= 0.95  # nothing went to the provider during the pause


def test_500_is_retried_and_400_failed(twilio: StubServer) -> None:
    twilio.answer_next((500, {}, b"oops"), twilio_error(400, 21610, "unsubscribed recipient"))
    settings = settings_for(twilio.url, http_concurrency=1)
    results = send(settings, [sms(1), sms(2), sms(3)])
    assert [r.outcome for r in results] == [Outcome.RETRY, Outcome.FAILED, Outcome.SENT]
    assert results[0].error == "HTTP 500: oops"


def test_unreachable_provider_is_a_retry() -> None:
    reset_limiters()
    with fake_twilio(SID, TOKEN).running() as server:
        url = server.url
    results = send(settings_for(url), [sms(1)])  # the server is gone: connection refused
    assert results[0].outcome is Outcome.RETRY and "transport" in (results[0].error or "")


def test_daily_quota_leaves_the_rest_for_tomorrow(twilio: StubServer) -> None:
    results = send(settings_for(twilio.url, sms_per_day=2), [sms(1), sms(2), sms(3), sms(4)])
    outcomes = [r.outcome for r in results]
    assert outcomes == [Outcome.SENT, Outcome.SENT, Outcome.RETRY, Outcome.RETRY]
    assert results[3].retry_after and results[3].retry_after > 0
    assert len(twilio.received) == 2


def test_apprise_adapter_sends_through_an_apprise_url() -> None:
    reset_limiters()
    with json_sink().running() as sink:
        settings = Settings(
            sms_provider="apprise",
            sms_apprise_url=f"json://{sink.url.removeprefix('http://')}/sms/{{to}}",
        )
        results = send(settings, [sms(1, "+34600000009", text="Hola ñandú")])
    assert results[0].outcome is Outcome.SENT
    assert sink.received[0].path == "/sms/34600000009"
    assert json.loads(sink.received[0].body)["message"] == "Hola ñandú"


def test_unknown_provider_or_missing_credentials_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="sms_provider"):
        SmsChannel(Settings(sms_provider="carrier-pigeon"))
    with pytest.raises(ValueError, match="twilio_account_sid"):
        SmsChannel(Settings())
    with pytest.raises(ValueError, match="twilio_from"):
        SmsChannel(settings_for("http://127.0.0.1:9", twilio_from=""))
    with pytest.raises(ValueError, match="\\{to\\}"):
        SmsChannel(Settings(sms_provider="apprise", sms_apprise_url="json://x/"))
