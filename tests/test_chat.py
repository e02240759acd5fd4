"""Chat through Apprise, pointed at a local HTTP server."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
from pathlib import Path

import pytest

from amends.delivery.channels.base import Message, Outcome, SendResult, channel_class
from amends.delivery.channels.chat import ChatChannel, is_chat_url
from amends.delivery.ratelimit import RateLimiter
from tests.provider_servers import json_sink


def note(n: int, url: str) -> Message:
    return Message(
        delivery_id=n,
        key=f"k{n}",
        address=url,
        locale="es",
        text="DNS caído: lo estamos arreglando",
        subject="Incidente #42",
    )


def send(messages: list[Message]) -> list[SendResult]:
    async def run() -> list[SendResult]:
        return await ChatChannel(limiter=RateLimiter(None)).send(messages)

    return asyncio.run(run())


def test_posts_through_apprise_json_to_a_local_server() -> None:
    assert channel_class("chat") is ChatChannel
    with json_sink().running() as sink:
        host = sink.url.removeprefix("http://")
        results = send([note(1, f"json://{host}/room-a"), note(2, f"json://{host}/room-b")])
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    bodies = {r.path: json.loads(r.body) for r in sink.received}
    assert bodies["/room-a"]["title"] == "Incidente #42"
    assert bodies["/room-b"]["message"] == "DNS caído: lo estamos arreglando"


def test_a_failing_endpoint_is_a_retry_with_the_reason() -> None:
    with json_sink().running() as sink:
        sink.answer_next((500, {}, b"boom"))
        results = send([note(1, f"json://{sink.url.removeprefix('http://')}/x")])
    assert results[0].outcome is Outcome.RETRY
    assert results[0].error and "500" in results[0].error


def test_an_unknown_url_fails() -> None:
    assert send([note(1, "carrier-pigeon://coop")])[0].outcome is Outcome.FAILED


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7",
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7",
        "https://discord.com/api/webhooks/417429632418316298/JHZ7lQml277CDHmQKMHI8qBe7bk2Z",
        "discord://417429632418316298/JHZ7lQml277CDHmQKMHI8qBe7bk2Z",
        "workflows://prod-161.westeurope.logic.azure.com:443/abcdef0123/sigvalue",
    ],
)
def test_slack_discord_and_teams_urls_are_understood(url: str) -> None:
    # Their hosts are fixed inside Apprise (hooks.slack.com, discord.com), so the
    # sending tests use json://; here we check the URLs subscribers paste are accepted.
    assert is_chat_url(url)


@pytest.fixture
def tls(tmp_path: Path) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1 (Teams workflows are HTTPS only)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_teams_through_a_power_automate_workflow(tls: ssl.SSLContext) -> None:
    with json_sink(tls=tls).running() as sink:
        port = sink.url.rsplit(":", 1)[1]
        url = f"workflows://127.0.0.1:{port}/wf123/sig456?verify=no"
        results = send([note(1, url)])
    assert results[0].outcome is Outcome.SENT, results[0].error
    request = sink.received[0]
    assert request.path.startswith("/workflows/wf123/triggers/manual/paths/invoke?")
    assert "sig=sig456" in request.path
    card = json.loads(request.body)
    assert "DNS caído" in json.dumps(card, ensure_ascii=False)
