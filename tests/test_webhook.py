"""Webhooks signed per Standard Webhooks, verified by the standardwebhooks library."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from amends.config import Settings
from amends.delivery.channels.base import Message, Outcome, SendResult, channel_class
from amends.delivery.channels.webhook import WebhookChannel
from amends.delivery.ratelimit import reset_limiters
from tests.provider_servers import StubServer, webhook_receiver

SECRET = "whsec_" + base64.b64encode(b"a very secret webhook key 32 byt").decode()


@pytest.fixture
def receiver() -> Iterator[StubServer]:
    reset_limiters()
    with webhook_receiver(SECRET).running() as server:
        yield server
    reset_limiters()


def event(n: int, url: str, payload: dict[str, object] | None = None) -> Message:
    payload = payload if payload is not None else {"type": "incident.opened", "data": {"id": n}}
    return Message(
        delivery_id=n, key=f"msg_{n}", address=url, locale="es", text="", payload=payload
    )


def send(messages: list[Message], **extra: object) -> list[SendResult]:
    settings = Settings(webhook_secret=SecretStr(SECRET), **extra)  # type: ignore[arg-type]

    async def run() -> list[SendResult]:
        channel = channel_class("webhook")(settings)  # type: ignore[call-arg]
        try:
            return await channel.send(messages)
        finally:
            await channel.close()

    return asyncio.run(run())


def test_signed_events_verify_with_the_standard_library(receiver: StubServer) -> None:
    assert channel_class("webhook") is WebhookChannel
    payload = {"type": "incident.opened", "data": {"title": "DNS caído ñ", "sites": 3}}
    results = send([event(1, receiver.url + "/hooks", payload), event(2, receiver.url)])
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    # Sent concurrently: find each by its id, not by arrival order.
    first = next(r for r in receiver.received if r.headers["webhook-id"] == "msg_1")
    assert first.path == "/hooks"
    assert {r.headers["webhook-id"] for r in receiver.received} == {"msg_1", "msg_2"}
    assert json.loads(first.body) == payload
    assert first.headers["webhook-id"] == "msg_1"
    assert abs(int(first.headers["webhook-timestamp"]) - time.time()) < 60
    # computed independently from the spec: HMAC-SHA256(id.timestamp.body), base64
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"msg_1.{first.headers['webhook-timestamp']}.".encode() + first.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert first.headers["webhook-signature"] == f"v1,{expected}"


def test_a_receiver_with_another_secret_rejects_and_that_is_permanent() -> None:
    other = "whsec_" + base64.b64encode(b"another key entirely, 32 bytes!!").decode()
    with webhook_receiver(other).running() as server:
        results = send([event(1, server.url)])
    assert results[0].outcome is Outcome.FAILED and "400" in (results[0].error or "")


def test_429_and_5xx_retry_other_4xx_fail(receiver: StubServer) -> None:
    receiver.answer_next((429, {"Retry-After": "7"}, b""), (503, {}, b"down"), (410, {}, b"gone"))
    results = send(
        [event(1, receiver.url), event(2, receiver.url), event(3, receiver.url),
         event(4, receiver.url)],
        http_concurrency=1, webhook_per_second=None,
    )  # fmt: skip
    assert [r.outcome for r in results] == [
        Outcome.RETRY, Outcome.RETRY, Outcome.FAILED, Outcome.SENT
    ]  # fmt: skip
    assert results[0].retry_after == 7
    assert results[1].error == "HTTP 503: down"


def test_a_timeout_is_a_retry() -> None:
    import threading

    from tests.provider_servers import Received

    release = threading.Event()

    def slow(request: Received) -> tuple[int, dict[str, str], bytes]:
        release.wait(5)
        return 200, {}, b""

    with StubServer(slow).running() as server:
        results = send([event(1, server.url)], webhook_timeout=0.3)
        release.set()
    assert results[0].outcome is Outcome.RETRY and "timeout" in (results[0].error or "")


def test_not_an_http_url_fails_without_a_request() -> None:
    results = send([event(1, "ftp://example.com/x"), event(2, "nonsense")])
    assert [r.outcome for r in results] == [Outcome.FAILED, Outcome.FAILED]


def test_the_secret_must_be_a_standard_webhooks_secret() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        WebhookChannel(Settings(webhook_secret=SecretStr("plain")))
