"""Credit events pushed to the provider's billing system: the outbox written at
issuance and redemption, delivered through the webhook channel to a real HTTP
server on 127.0.0.1, signed per Standard Webhooks, retried, on both databases."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from typer.testing import CliRunner

from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.cli import app as cli
from amends.config import Settings
from amends.credits import policies, redemption, webhooks
from amends.credits import service as ledger
from amends.credits.models import BillingEndpoint, Credit, CreditWebhookEvent
from amends.db import unit_of_work
from amends.delivery.channels.base import channel_class
from amends.delivery.dispatch import Dispatcher, Policy, Tally
from amends.delivery.models import Delivery, DeliveryState
from amends.delivery.ratelimit import reset_limiters
from tests.api_support import API, error_of, in_process, issue_key
from tests.credit_support import World, issue, world
from tests.provider_servers import Received, StubServer
from tests.test_redeem import CLICK, NOW

TOLERANCE = dt.timedelta(minutes=5)


@pytest.fixture
def receiver() -> Iterator[StubServer]:
    """Billing's endpoint: verifies each signature with the standardwebhooks library;
    its secret is set when the endpoint is registered (see :func:`_register`)."""
    reset_limiters()
    server = StubServer(lambda request: (204, {}, b""))
    with server.running():
        yield server
    reset_limiters()


def _register(session: Session, receiver: StubServer) -> BillingEndpoint:
    endpoint = webhooks.add_endpoint(session=session, url=f"{receiver.url}/billing")
    verifier = Webhook(endpoint.secret)

    def handle(request: Received) -> tuple[int, dict[str, str], bytes]:
        try:  # as any Standard Webhooks library would: else 400, and the event is retried
            verifier.verify(request.body, request.headers)
        except WebhookVerificationError as exc:
            return 400, {}, str(exc).encode()
        return 204, {}, b""

    receiver.handle = handle
    return endpoint


def _drain(engine: Engine, settings: Settings, policy: Policy = Policy()) -> Tally:
    channel = channel_class("billing")(settings)  # type: ignore[call-arg]
    dispatcher = Dispatcher(
        engine=engine, settings=settings, channels={"billing": channel}, policy=policy
    )

    async def go() -> Tally:
        try:
            return await dispatcher.drain()
        finally:
            await dispatcher.close()

    return asyncio.run(go())


def _verify(request: Received, secret: str) -> dict:  # type: ignore[type-arg]
    """The Standard Webhooks signature, by the spec's own recipe (not the library)."""
    msg_id = request.headers["webhook-id"]
    stamp = request.headers["webhook-timestamp"]
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{stamp}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    versions = request.headers["webhook-signature"].split(" ")
    assert f"v1,{expected}" in versions
    sent = dt.datetime.fromtimestamp(int(stamp), dt.UTC)
    assert abs(dt.datetime.now(dt.UTC) - sent) < TOLERANCE
    return json.loads(request.body)  # type: ignore[no-any-return]


def _setup(session: Session, receiver: StubServer, document: str = CLICK) -> tuple[World, str]:
    w = world(session)
    secret = _register(session, receiver).secret
    issue(session, w.incident, document, now=NOW - dt.timedelta(hours=1))
    session.commit()
    return w, secret


def test_issued_and_redeemed_events_arrive_signed_without_personal_data(
    session: Session, sessions: sessionmaker[Session], engine: Engine, settings: Settings,
    receiver: StubServer,
) -> None:  # fmt: skip
    w, secret = _setup(session, receiver)
    with unit_of_work(sessions) as s:
        token = redemption.issue_links(
            session=s, incident_id=w.incident.id, customer_ids=[w.ana.id]
        )[w.ana.id]
        assert redemption.redeem(session=s, token=token) == ("redeemed", 2)
    tally = _drain(engine, settings)
    assert tally.sent == 2 and tally.failed == 0
    bodies = {b["type"]: b for b in (_verify(r, secret) for r in receiver.received)}
    issued, redeemed = bodies["credit.issued"], bodies["credit.redeemed"]
    with sessions() as s:
        stored = s.execute(select(Credit.id, Credit.amount_minor).order_by(Credit.id)).all()
    assert issued["data"]["count"] == len(stored) == 3  # Ana's 2 sites, Bob's web site
    assert [c["credit_id"] for c in issued["data"]["credits"]] == [i for i, _ in stored]
    assert issued["data"]["totals_minor"] == {"EUR": 999 + 1200 + 2500}
    first = issued["data"]["credits"][0]
    assert set(first) == {
        "credit_id", "incident_id", "customer_external_id", "site_external_id",
        "amount_minor", "currency", "auto_apply", "available_at", "expires_at", "redeemed_at",
    }  # fmt: skip
    assert type(first["amount_minor"]) is int and first["auto_apply"] is False
    assert redeemed["data"]["customer_external_id"] == w.ana.external_id
    assert sorted(c["amount_minor"] for c in redeemed["data"]["credits"]) == [999, 1200]
    assert all(c["redeemed_at"] for c in redeemed["data"]["credits"])
    raw = b" ".join(r.body for r in receiver.received).decode()
    for personal in (w.ana.name, w.bob.name, w.ana.email, w.bob.email, "@"):
        assert personal and personal not in raw
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(ids) == 2
    assert _drain(engine, settings).claimed == 0  # nothing twice
    assert len(receiver.received) == 2


def test_a_500_is_retried_with_the_same_id_and_a_dead_endpoint_is_disabled(
    session: Session, sessions: sessionmaker[Session], engine: Engine, settings: Settings,
    receiver: StubServer,
) -> None:  # fmt: skip
    _, secret = _setup(session, receiver)
    receiver.answer_next((500, {}, b"billing is down"))
    first = _drain(engine, settings)
    assert (first.sent, first.retried) == (0, 1)
    with unit_of_work(sessions) as s:
        row = s.scalars(select(Delivery).where(Delivery.channel == "billing")).one()
        assert row.state is DeliveryState.pending and "HTTP 500" in (row.last_error or "")
        assert row.next_attempt_at > dt.datetime.now(dt.UTC)  # backed off
        s.execute(update(Delivery).values(next_attempt_at=dt.datetime.now(dt.UTC)))
    again = _drain(engine, settings)
    assert again.sent == 1
    failed, delivered = receiver.received
    assert failed.headers["webhook-id"] == delivered.headers["webhook-id"]  # receivers dedupe
    assert _verify(delivered, secret)["type"] == "credit.issued"
    # An endpoint that keeps refusing is switched off, and owed nothing more.
    quick = settings.model_copy(update={"webhook_disable_after": 2})
    for day in (1, 2):  # two events in a row refused (the count is per batch)
        with unit_of_work(sessions) as s:
            issue(s, world_incident(s, day), CLICK, now=NOW - dt.timedelta(minutes=day))
        receiver.answer_next((410, {}, b"gone"))
        assert _drain(engine, quick).failed == 1
    with unit_of_work(sessions) as s:
        endpoint = s.scalars(select(BillingEndpoint)).one()
        assert endpoint.disabled_at is not None and endpoint.consecutive_failures == 2
        incident = world_incident(s, 3)
        issue(s, incident, CLICK, now=NOW)
        assert s.scalar(select(func.count()).select_from(CreditWebhookEvent)) == 3  # no listener


def world_incident(session: Session, day: int):  # type: ignore[no-untyped-def]
    """Another DNS outage, ``day`` days after the first, hitting the same sites."""
    from tests.credit_support import END, T0, dns_outage

    shift = dt.timedelta(days=day)
    return dns_outage(session, T0 + shift, END + shift)


def test_issuance_writes_one_event_per_thousand_and_auto_apply_announces_redemption(
    session: Session, sessions: sessionmaker[Session], engine: Engine, settings: Settings,
    receiver: StubServer, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(webhooks, "CREDITS_PER_EVENT", 2)  # 3 credits: two events
    w, secret = _setup(session, receiver, policies.GODADDY_2012)
    with unit_of_work(sessions) as s:
        events = s.scalars(select(CreditWebhookEvent).order_by(CreditWebhookEvent.id)).all()
        assert [(e.type, e.last_credit_id - e.first_credit_id + 1) for e in events] == [
            ("credit.issued", 2),
            ("credit.issued", 1),
        ]
        moved = ledger.advance(session=s, now=NOW + dt.timedelta(days=8))
        assert moved["auto_applied"] == 3
    _drain(engine, settings)
    bodies = [_verify(r, secret) for r in receiver.received]
    counts = sorted((b["type"], b["data"]["count"]) for b in bodies)
    assert counts == [
        ("credit.issued", 1), ("credit.issued", 2),
        ("credit.redeemed", 1), ("credit.redeemed", 2),
    ]  # fmt: skip
    listed = [
        c["credit_id"] for b in bodies if b["type"] == "credit.issued" for c in b["data"]["credits"]
    ]
    assert len(listed) == len(set(listed)) == 3  # each credit in exactly one event
    assert w.incident.id == bodies[0]["data"]["incident_id"]


def test_without_an_endpoint_nothing_is_written(session: Session) -> None:
    w = world(session)
    issue(session, w.incident, CLICK, now=NOW)
    assert session.scalar(select(func.count()).select_from(CreditWebhookEvent)) == 0


@pytest.mark.anyio
async def test_endpoints_over_the_api_admin_only_secret_shown_once(settings: Settings) -> None:
    app = create_app(settings)
    async with in_process(app) as client:
        admin = {"X-API-Key": issue_key(app, Scope.admin)}
        writer = {"X-API-Key": issue_key(app, Scope.write)}
        body = {"url": "https://billing.example/amends", "description": "invoices"}
        refused = await client.post(f"{API}/credits/webhooks", json=body, headers=writer)
        assert refused.status_code == 403
        created = await client.post(f"{API}/credits/webhooks", json=body, headers=admin)
        assert created.status_code == 201
        secret = created.json()["secret"]
        assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
        listed = (await client.get(f"{API}/credits/webhooks", headers=admin)).json()
        assert listed[0]["url"] == body["url"] and "secret" not in listed[0]
        assert secret not in json.dumps(listed)
        bad = await client.post(
            f"{API}/credits/webhooks", json={"url": "ftp://x.example/"}, headers=admin
        )
        error_of(bad, 422, "validation_failed")
        assert bad.json()["error"]["field"] == "url"
        gone = await client.delete(f"{API}/credits/webhooks/{listed[0]['id']}", headers=admin)
        assert gone.status_code == 200
        missing = await client.delete(f"{API}/credits/webhooks/999", headers=admin)
        error_of(missing, 404, "not_found")


def test_cli_adds_lists_and_removes_an_endpoint(settings: Settings) -> None:
    runner = CliRunner()
    base = ["--database-url", settings.database_url]
    added = runner.invoke(cli, [*base, "credits", "webhook", "add", "https://billing.example/h"])
    assert added.exit_code == 0, added.output
    assert "signing secret (shown once" in added.output and "whsec_" in added.output
    listed = runner.invoke(cli, [*base, "credits", "webhook", "list", "--json"])
    assert "whsec_" not in listed.output and json.loads(listed.output)[0]["url"].endswith("/h")
    bad = runner.invoke(cli, [*base, "credits", "webhook", "add", "not a url"])
    assert bad.exit_code != 0 and "url" in bad.output
