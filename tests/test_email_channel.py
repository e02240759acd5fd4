"""The e-mail channel against real SMTP servers on 127.0.0.1 (aiosmtpd, Postfix's smtp-sink)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from amends.config import Settings
from amends.delivery.channels import Message, Outcome, channel_class
from amends.delivery.channels.email import EmailChannel
from amends.delivery.smtp import xtext

FROM = "avisos@hosting.example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Relay:
    """An aiosmtpd handler that records what arrives and answers as told."""

    def __init__(self, *, pipelining: bool = True) -> None:
        self.pipelining = pipelining
        self.received: list[tuple[str, list[str], bytes, bool]] = []
        self.drop_at: int | None = None  # abort the connection at this DATA (1-based)
        self.datas = 0

    async def handle_EHLO(
        self, server: Any, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("busy"):
            return "450 4.2.1 Mailbox busy, try later"
        if address.startswith("gone"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.datas += 1
        if self.drop_at == self.datas:
            server.transport.abort()
            return "250 2.0.0 too late, nobody hears this"
        rcpt = envelope.rcpt_tos[0]
        if rcpt.startswith("full"):
            return "452 4.2.2 Mailbox full"
        if rcpt.startswith("big"):
            return "552 5.3.4 Message too big"
        content = envelope.original_content or b""
        sender = envelope.mail_from or ""
        self.received.append((sender, envelope.rcpt_tos, content, bool(session.ssl)))
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"


@pytest.fixture
def relay_factory() -> Iterator[Any]:
    controllers: list[Controller] = []

    def start(handler: Relay, **kwargs: Any) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


def settings_for(port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": "off",
        "smtp_connections": 3,
        "smtp_timeout": 10,
        "mail_from": FROM,
        "mail_from_name": "Soporte Técnico",
        "message_id_domain": "hosting.example",
    }
    values.update(overrides)
    return Settings(**values)


def message(i: int, address: str | None = None, **overrides: Any) -> Message:
    values: dict[str, Any] = {
        "delivery_id": i,
        "key": f"inc-1.cust-{i}.n1",
        "address": address or f"user{i}@example.com",
        "locale": "es",
        "name": f"José Muñoz {i} 🎉",
        "subject": "Incidencia: el correo no funciona — estamos en ello",
        "text": f"Hola José {i},\n.una línea con punto\nFrom aquí\n\n{'á' * 120}\n",
        "html": f"<p>Hola José {i}</p>\n<p>.punto</p>",
        "variant": "es",
        "unsubscribe_url": f"https://status.hosting.example/u/{i}",
    }
    values.update(overrides)
    return Message(**values)


def send(channel: EmailChannel, *batches: list[Message]) -> list[list[Any]]:
    async def run() -> list[list[Any]]:
        try:
            return [await channel.send(batch) for batch in batches]
        finally:
            await channel.close()

    return asyncio.run(run())


def test_the_channel_is_registered_as_email() -> None:
    assert channel_class("email") is EmailChannel


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-by-one"])
def test_what_arrives_is_what_was_meant(relay_factory: Any, pipelining: bool) -> None:
    relay = Relay(pipelining=pipelining)
    channel = EmailChannel(settings_for(relay_factory(relay)))
    batch = [message(i) for i in range(25)]
    (results,) = send(channel, batch)

    assert [r.delivery_id for r in results] == list(range(25))
    assert all(r.outcome is Outcome.SENT for r in results), results
    assert sorted(r.provider_id or "" for r in results) == sorted(f"Q{n}" for n in range(1, 26))
    assert len(relay.received) == 25
    by_address = {rcpts[0]: (sender, content) for sender, rcpts, content, _ in relay.received}
    for sent in batch:
        sender, content = by_address[sent.address]
        assert sender == FROM
        parsed = message_from_bytes(content, policy=policy.default)
        assert parsed["Subject"] == sent.subject
        assert parsed["To"].addresses[0].display_name == sent.name
        assert parsed["From"].addresses[0].display_name == "Soporte Técnico"
        assert parsed["Message-ID"] == f"<{sent.key}@hosting.example>"
        assert parsed["List-Unsubscribe"] == f"<{sent.unsubscribe_url}>"
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        plain = parsed.get_body(("plain",))
        html = parsed.get_body(("html",))
        assert plain is not None and html is not None
        assert plain.get_content().replace("\r\n", "\n") == sent.text
        assert html.get_content().replace("\r\n", "\n") == (sent.html or "") + "\n"


def test_starttls_and_auth(relay_factory: Any) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        # handled=False: let aiosmtpd answer 535 itself on failure
        return AuthResult(success=data.password == b"s3cret p\xc3\xa1ss", handled=False)

    relay = Relay()
    port = relay_factory(
        relay,
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    good = settings_for(port, smtp_starttls="required", smtp_username="notices")
    good = good.model_copy(update={"smtp_password": _secret("s3cret páss")})
    (results,) = send(EmailChannel(good, ssl_context=client_context), [message(1), message(2)])
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    assert all(tls for *_, tls in relay.received), "the messages travelled over TLS"
    assert logins[0] == (b"notices", b"s3cret p\xc3\xa1ss")

    bad = good.model_copy(update={"smtp_password": _secret("wrong")})
    (results,) = send(EmailChannel(bad, ssl_context=client_context), [message(3)])
    assert results[0].outcome is Outcome.RETRY
    assert "535" in (results[0].error or "")
    assert len(relay.received) == 2

    # a certificate nobody vouches for is refused: nothing is sent, nothing raised
    (results,) = send(EmailChannel(good), [message(4)])
    assert results[0].outcome is Outcome.RETRY
    assert "CERTIFICATE_VERIFY_FAILED" in (results[0].error or "")


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


def test_starttls_required_but_not_offered_sends_nothing(relay_factory: Any) -> None:
    relay = Relay()
    port = relay_factory(relay)
    (results,) = send(EmailChannel(settings_for(port, smtp_starttls="required")), [message(1)])
    assert results[0].outcome is Outcome.RETRY
    assert "does not offer STARTTLS" in (results[0].error or "")
    assert relay.received == []


def test_answers_map_per_recipient(relay_factory: Any) -> None:
    relay = Relay()
    channel = EmailChannel(settings_for(relay_factory(relay), smtp_connections=1))
    batch = [
        message(0),
        message(1, "busy@example.com"),
        message(2, "gone@example.com"),
        message(3),
        message(4, "full@example.com"),
        message(5, "big@example.com"),
        message(6, "josé@example.com"),  # SMTPUTF8 needed: refused before sending
        message(7),
    ]
    (results,) = send(channel, batch)
    outcomes = [r.outcome for r in results]
    assert outcomes == [
        Outcome.SENT,
        Outcome.RETRY,
        Outcome.FAILED,
        Outcome.SENT,
        Outcome.RETRY,
        Outcome.FAILED,
        Outcome.FAILED,
        Outcome.SENT,
    ]
    assert results[1].error == "450 4.2.1 Mailbox busy, try later"
    assert results[2].error == "550 5.1.1 No such user"
    assert results[4].error == "452 4.2.2 Mailbox full"
    assert results[5].error == "552 5.3.4 Message too big"
    assert "cannot be sent" in (results[6].error or "")
    assert [rcpts[0] for _, rcpts, _, _ in relay.received] == [
        "user0@example.com",
        "user3@example.com",
        "user7@example.com",
    ]
    assert channel.pool.connects == 1


def test_a_dropped_connection_means_retry_and_a_new_connection(relay_factory: Any) -> None:
    relay = Relay()
    relay.drop_at = 4
    channel = EmailChannel(settings_for(relay_factory(relay), smtp_connections=1))
    first, second = send(
        channel, [message(i) for i in range(10)], [message(i) for i in range(10, 15)]
    )
    outcomes = [r.outcome for r in first]
    # only the message whose body went out unanswered is in doubt; the next one was
    # pipelined behind it but never got its 354, so it goes again on the new connection
    assert outcomes == [Outcome.SENT] * 3 + [Outcome.RETRY] + [Outcome.SENT] * 6
    assert "connection lost" in (first[3].error or "")
    assert [r.outcome for r in second] == [Outcome.SENT] * 5
    assert channel.pool.connects == 2
    assert len(relay.received) == 14


def test_a_connection_the_relay_closed_while_idle_is_replaced(relay_factory: Any) -> None:
    relay = Relay()
    port = relay_factory(relay, timeout=0.5)  # aiosmtpd closes sessions idle for 0.5 s
    channel = EmailChannel(settings_for(port, smtp_connections=1))

    async def run() -> tuple[list[Any], list[Any]]:
        first = await channel.send([message(1), message(2)])
        await asyncio.sleep(1.0)
        second = await channel.send([message(3), message(4)])
        await channel.close()
        return first, second

    first, second = asyncio.run(run())
    assert [r.outcome for r in first + second] == [Outcome.SENT] * 4
    assert channel.pool.connects == 2
    assert len(relay.received) == 4


def test_connections_are_reused_across_batches(relay_factory: Any) -> None:
    relay = Relay()
    channel = EmailChannel(settings_for(relay_factory(relay), smtp_connections=3))
    batches = [[message(b * 100 + i) for i in range(50)] for b in range(4)]
    results = send(channel, *batches)
    assert all(r.outcome is Outcome.SENT for batch in results for r in batch)
    assert channel.pool.connects == 3
    assert len(relay.received) == 200


def test_an_unreachable_relay_means_retry_not_an_exception() -> None:
    channel = EmailChannel(settings_for(free_port()))
    (results,) = send(channel, [message(1), message(2)])
    assert [r.outcome for r in results] == [Outcome.RETRY, Outcome.RETRY]
    assert "relay unreachable" in (results[0].error or "")


@pytest.fixture
def smtp_sink() -> Iterator[int]:
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not os.path.exists(binary):
        if os.environ.get("CI") == "true":
            pytest.fail("smtp-sink (Debian package postfix) is required in CI")
        pytest.skip("smtp-sink not installed (apt-get install postfix)")
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    sink = subprocess.Popen([binary, *user, f"127.0.0.1:{port}", "256"])
    deadline = time.monotonic() + 5
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                sink.kill()
                raise
            time.sleep(0.05)
    yield port
    sink.terminate()
    sink.wait(5)


def test_envelope_ids_are_xtext() -> None:
    assert xtext("inc-42.cust-7.n1") == "inc-42.cust-7.n1"
    assert xtext("a+b=c d\u00e9") == "a+2Bb+3Dc+20d+C3+A9"


def test_thousands_through_smtp_sink(smtp_sink: int) -> None:
    # smtp-sink announces DSN, so every MAIL FROM here carries RET=HDRS ENVID=<key>
    channel = EmailChannel(settings_for(smtp_sink, smtp_connections=8))
    batches = [[message(b * 1000 + i) for i in range(1000)] for b in range(3)]
    results = send(channel, *batches)
    assert sum(r.outcome is Outcome.SENT for batch in results for r in batch) == 3000
    assert channel.pool.connects == 8
