"""Provider receipts after acceptance: Twilio status callbacks and e-mail
bounces move sent ledger rows, through the real app, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from amends import flows
from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.config import Settings
from amends.db import unit_of_work
from amends.delivery.channels.twilio import status_callback_url, twilio_signature
from amends.delivery.models import Delivery, DeliveryState
from amends.incidents.models import ComponentStatus
from tests.api_support import API, error_of, in_process, issue_key
from tests.factories import customer, hosting_catalog, site

TOKEN = "twilio-test-token"
DOMAIN = "hosting.example"


@pytest.fixture
def app(database_url: str) -> Iterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        auto_migrate=False,
        twilio_auth_token=TOKEN,
        message_id_domain=DOMAIN,
        public_url="https://status.hosting.example",
    )
    app = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        hosting_catalog(session)
        for n in range(3):
            who = customer(session, channels=["email", "sms"], phone=f"+3460000000{n}")
            site(session, who, ["dns"])
        flows.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage}
        )
        # As if dispatch had handed every row over: sent, with the provider's id.
        for row in session.scalars(select(Delivery)):
            row.state = DeliveryState.sent
            row.provider_id = f"SM{row.id:032d}" if row.channel == "sms" else f"q{row.id}"
    yield app
    app.state.read_engine.dispose()
    app.state.engine.dispose()


def ledger(app: FastAPI) -> dict[int, tuple[str, str, str | None]]:
    with app.state.sessions() as session:
        return {
            d.id: (d.channel, str(d.state), d.last_error)
            for d in session.scalars(select(Delivery).order_by(Delivery.id))
        }


def sms_ids(app: FastAPI) -> list[int]:
    return [i for i, (channel, _, _) in ledger(app).items() if channel == "sms"]


def callback(app: FastAPI, form: dict[str, str], *, signature: str | None = None):  # type: ignore[no-untyped-def]
    url = status_callback_url(app.state.settings)
    signed = signature if signature is not None else twilio_signature(TOKEN, url, form)

    async def post():  # type: ignore[no-untyped-def]
        async with in_process(app) as client:
            return await client.post(
                f"{API}/providers/twilio/status", data=form, headers={"X-Twilio-Signature": signed}
            )

    return asyncio.run(post())


def test_an_undelivered_sms_fails_its_row_once(app: FastAPI) -> None:
    first, second, _ = sms_ids(app)
    form = {"MessageSid": f"SM{first:032d}", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert callback(app, form).status_code == 204
    assert ledger(app)[first][1:] == ("failed", "twilio undelivered (error 30003)")
    # Delivered: the row stays sent; a repeated callback changes nothing.
    ok = {"MessageSid": f"SM{second:032d}", "MessageStatus": "delivered"}
    assert callback(app, ok).status_code == 204
    assert callback(app, form).status_code == 204
    states = {i: s for i, (_, s, _) in ledger(app).items()}
    assert states[first] == "failed" and states[second] == "sent"
    assert sorted(states.values()).count("failed") == 1


def test_a_forged_callback_is_refused_and_changes_nothing(app: FastAPI) -> None:
    before = ledger(app)
    target = sms_ids(app)[0]
    form = {"MessageSid": f"SM{target:032d}", "MessageStatus": "failed"}
    forged = twilio_signature("not-the-token", status_callback_url(app.state.settings), form)
    error_of(callback(app, form, signature=forged), 403, "bad_signature")
    # Signed for other parameters than the ones posted: refused too.
    other = twilio_signature(TOKEN, status_callback_url(app.state.settings), {**form, "x": "1"})
    error_of(callback(app, form, signature=other), 403, "bad_signature")
    assert ledger(app) == before


def test_a_permanent_bounce_fails_the_email_row_a_delay_does_not(app: FastAPI) -> None:
    emails = [i for i, (channel, _, _) in ledger(app).items() if channel == "email"]
    with app.state.sessions() as session:
        notice_id = session.scalar(select(Delivery.notice_id).where(Delivery.id == emails[0]))
    key = issue_key(app, Scope.write)

    async def post(dsn: bytes):  # type: ignore[no-untyped-def]
        async with in_process(app, key=key) as client:
            return await client.post(
                f"{API}/bounces", content=dsn, headers={"Content-Type": "message/rfc822"}
            )

    failed = asyncio.run(post(_dsn(f"<{notice_id}.{emails[0]}@{DOMAIN}>", "failed", "5.1.1")))
    assert failed.status_code == 200, failed.text
    assert failed.json() == {"reports": 1, "failed": 1, "ignored": 0}
    delayed = asyncio.run(post(_dsn(f"<{notice_id}.{emails[1]}@{DOMAIN}>", "delayed", "4.4.1")))
    assert delayed.json() == {"reports": 1, "failed": 0, "ignored": 1}
    foreign = asyncio.run(post(_dsn("<someone-else@example.org>", "failed", "5.1.1")))
    assert foreign.json() == {"reports": 1, "failed": 0, "ignored": 1}
    rows = ledger(app)
    assert rows[emails[0]][1] == "failed" and (rows[emails[0]][2] or "").startswith("bounced 5.1.1")
    assert rows[emails[1]][1] == "sent" and rows[emails[2]][1] == "sent"


def test_bounces_need_a_write_key(app: FastAPI) -> None:
    async def post():  # type: ignore[no-untyped-def]
        async with in_process(app, key=issue_key(app, Scope.read)) as client:
            return await client.post(f"{API}/bounces", content=b"x")

    error_of(asyncio.run(post()), 403, "forbidden")


def test_a_busy_voice_call_goes_back_to_pending(app: FastAPI) -> None:
    target = sms_ids(app)[2]
    with unit_of_work(app.state.sessions) as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == target)
            .values(provider_id="CA123", channel="voice")
        )
    assert callback(app, {"CallSid": "CA123", "CallStatus": "no-answer"}).status_code == 204
    assert ledger(app)[target][1] == "pending"


def _dsn(message_id: str, action: str, status: str) -> bytes:
    """A relay's delivery status notification about one message of ours."""
    return (
        b"From: MAILER-DAEMON@relay.hosting.example\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain\r\n\r\nReport.\r\n"
        b"--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; relay.hosting.example\r\n\r\n"
        b"Final-Recipient: rfc822; someone@example.com\r\n"
        b"Action: " + action.encode() + b"\r\nStatus: " + status.encode() + b"\r\n\r\n"
        b"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        b"Message-ID: " + message_id.encode() + b"\r\n\r\n"
        b"--b1--\r\n"
    )
