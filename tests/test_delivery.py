"""The delivery ledger and its dispatch, on SQLite and PostgreSQL, against a
real HTTP endpoint on 127.0.0.1 (tests/delivery_support.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from amends import flows
from amends.catalog import service as catalog_service
from amends.catalog.models import Subscriber, SubscriberKind
from amends.config import Settings
from amends.db import unit_of_work, utcnow
from amends.delivery import dispatch, ledger, recipients, service
from amends.delivery.models import Delivery, DeliveryState, NoticeKind
from amends.incidents.models import ComponentStatus, IncidentStatus
from tests.delivery_support import HttpChannel, Receiver
from tests.factories import customer, hosting_catalog, site

C = ComponentStatus


def open_dns_outage(session: Session) -> int:
    incident, result = flows.open_incident(
        session=session, title="DNS down", components={"dns": C.major_outage}
    )
    assert result is not None and result.created
    return incident.id


def rows(session: Session) -> list[Delivery]:
    return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def states(session: Session) -> dict[str, int]:
    found = session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
    return {str(s): n for s, n in found}


@pytest.fixture
def catalog(session: Session) -> Session:
    hosting_catalog(session)
    return session


def test_one_delivery_per_customer_and_channel_however_many_sites(catalog: Session) -> None:
    many = customer(catalog, channels=["email", "sms"], phone="+34600000001")
    for _ in range(5):
        site(catalog, many, ["web-hosting"])
    one = customer(catalog)
    site(catalog, one, ["email"])
    untouched = customer(catalog)
    site(catalog, untouched, ["domains"])
    open_dns_outage(catalog)
    found = {(d.recipient_id, d.channel) for d in rows(catalog)}
    assert found == {(many.id, "email"), (many.id, "sms"), (one.id, "email")}
    sms = next(d for d in rows(catalog) if d.channel == "sms")
    assert sms.address == "+34600000001" and sms.locale == "es"
    assert sms.state is DeliveryState.pending


def test_issuing_a_notice_twice_changes_nothing(catalog: Session) -> None:
    ana = customer(catalog)
    site(catalog, ana, ["dns"])
    incident_id = open_dns_outage(catalog)
    before = [(d.id, d.notice_id, d.recipient_id, d.channel, d.state) for d in rows(catalog)]
    again = service.issue_notice(session=catalog, incident_id=incident_id, kind=NoticeKind.first)
    assert not again.created and again.deliveries == 0
    after = [(d.id, d.notice_id, d.recipient_id, d.channel, d.state) for d in rows(catalog)]
    assert before == after and len(after) == 1
    # A customer hit since then is added, once; nobody else twice.
    late = customer(catalog)
    site(catalog, late, ["email"])
    third = service.issue_notice(session=catalog, incident_id=incident_id, kind=NoticeKind.first)
    assert third.deliveries == 1 and len(rows(catalog)) == 2


def test_opt_outs_and_missing_addresses_are_suppressed(catalog: Session) -> None:
    opted = customer(catalog, channels=["email", "sms"], phone="+34600000002", opt_out=["sms"])
    site(catalog, opted, ["dns"])
    open_dns_outage(catalog)
    by_channel = {d.channel: d for d in rows(catalog)}
    assert by_channel["email"].state is DeliveryState.pending
    assert by_channel["sms"].state is DeliveryState.suppressed
    assert by_channel["sms"].last_error == recipients.OPTED_OUT


def test_subscribers_of_failed_components_or_of_everything(catalog: Session) -> None:
    add = catalog_service.add_subscriber
    follows_email = add(
        session=catalog, kind=SubscriberKind.email, address="a@example.org",
        components=["email"], confirmed=True,
    )  # fmt: skip
    follows_all = add(
        session=catalog, kind=SubscriberKind.webhook, address="https://hooks.example.org/x",
        confirmed=True,
    )  # fmt: skip
    add(session=catalog, kind=SubscriberKind.email, address="b@example.org",
        components=["domains"], confirmed=True)  # fmt: skip
    add(session=catalog, kind=SubscriberKind.email, address="c@example.org")  # unconfirmed
    open_dns_outage(catalog)
    found = {(d.recipient_kind.value, d.recipient_id, d.channel) for d in rows(catalog)}
    assert found == {
        ("subscriber", follows_email.id, "email"),
        ("subscriber", follows_all.id, "webhook"),
    }


def test_update_and_resolution_notices_follow_the_lifecycle(catalog: Session) -> None:
    ana = customer(catalog)
    site(catalog, ana, ["dns"])
    incident_id = open_dns_outage(catalog)
    _, internal = flows.post_update(
        session=catalog, incident_id=incident_id, status=IncidentStatus.identified,
        message="router tables", notify=False,
    )  # fmt: skip
    assert internal is None
    _, public = flows.post_update(
        session=catalog, incident_id=incident_id, status=IncidentStatus.monitoring,
        message="Fixed, watching",
    )  # fmt: skip
    assert public is not None and public.notice.kind is NoticeKind.update
    _, closing = flows.resolve(session=catalog, incident_id=incident_id, message="All good")
    assert closing is not None and closing.notice.kind is NoticeKind.resolution
    counts = ledger.counts(session=catalog, incident_id=incident_id)
    assert [n["kind"] for n in counts.notices] == ["first", "update", "resolution"]
    assert counts.by_state == {"pending": 3}


# -- dispatch against the local endpoint --------------------------------------


def _settings(engine: Engine) -> Settings:
    return Settings(database_url=str(engine.url), auto_migrate=False, notice_sender="Hostia")


def run_dispatch(engine: Engine, url: str, **policy: object) -> dispatch.Tally:
    channel = HttpChannel(url)
    dispatcher = dispatch.Dispatcher(
        engine=engine,
        settings=_settings(engine),
        policy=dispatch.Policy(**policy),  # type: ignore[arg-type]
        channels={"email": channel, "sms": channel, "webhook": channel},
    )

    async def go() -> dispatch.Tally:
        try:
            return await dispatcher.drain()
        finally:
            await dispatcher.close()

    return asyncio.run(go())


def test_dispatch_sends_renders_and_records_idempotently(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        hosting_catalog(session)
        ana = customer(session, name="Ana Núñez", timezone="Europe/Madrid")
        for _ in range(5):
            site(session, ana, ["web-hosting"])
        bob = customer(session, name="Bob", locale="en", email="bad@example.com")
        site(session, bob, ["dns"])
        eve = customer(session, name="Eve", locale="en", email="retry@example.com")
        site(session, eve, ["dns"])
        incident_id = open_dns_outage(session)
    with Receiver() as receiver:
        tally = run_dispatch(engine, receiver.url)
        assert (tally.sent, tally.failed, tally.retried) == (1, 1, 1)
        again = run_dispatch(engine, receiver.url)  # nothing due: nothing sent twice
        assert again.claimed == 0
    assert sum(receiver.keys.values()) == 1
    (key,) = receiver.keys
    body = receiver.bodies[key]
    assert body["subject"] == "Estamos en ello: DNS down"
    assert "Hola Ana Núñez:" in body["text"] and "y 2 más" in body["text"]
    assert "CET" in body["text"]  # the start time, in Madrid time
    with sessions() as session:
        by_address = {d.address: d for d in rows(session)}
        sent = by_address[body["address"]]
        assert sent.state is DeliveryState.sent and sent.provider_id == f"p-{key}"
        assert key == f"{sent.notice_id}.{sent.id}"
        failed = by_address["bad@example.com"]
        assert failed.state is DeliveryState.failed and "550" in (failed.last_error or "")
        retry = by_address["retry@example.com"]
        assert retry.state is DeliveryState.pending and retry.attempts == 1
        assert retry.next_attempt_at >= utcnow() + dt.timedelta(seconds=55)  # Retry-After 60
        assert retry.lease_owner is None
        counts = ledger.counts(session=session, incident_id=incident_id)
        assert counts.by_state == {"failed": 1, "pending": 1, "sent": 1}


def test_a_dead_workers_lease_is_taken_over_after_it_expires(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        hosting_catalog(session)
        for _ in range(3):
            site(session, customer(session), ["dns"])
        open_dns_outage(session)
    now = utcnow()
    lease = dict(limit=10, lease_seconds=60, channels=["email"])
    with unit_of_work(sessions) as session:
        dead = dispatch.claim(session=session, owner="dead", now=now, **lease)  # type: ignore[arg-type]
    assert len(dead) == 3 and all(n == 1 for _, n in dead)
    with unit_of_work(sessions) as session:
        assert dispatch.claim(session=session, owner="b", now=now, **lease) == []  # type: ignore[arg-type]
    later = now + dt.timedelta(seconds=61)
    with unit_of_work(sessions) as session:
        taken = dispatch.claim(session=session, owner="b", now=later, **lease)  # type: ignore[arg-type]
    assert [r.delivery_id for r, _ in taken] == [r.delivery_id for r, _ in dead]
    assert all(n == 2 for _, n in taken)
    ids = [r.delivery_id for r, _ in dead]
    # The first worker was only slow: before sending it renews, and finds the
    # rows are no longer its own, so it does not send them a second time.
    with unit_of_work(sessions) as session:
        assert dispatch.renew(session=session, owner="dead", ids=ids, lease_seconds=60) == set()
        assert dispatch.renew(session=session, owner="b", ids=ids, lease_seconds=60) == set(ids)
    # The dead worker wakes up and reports: its results no longer count.
    from amends.delivery.channels.base import Outcome, SendResult

    stale = [SendResult(r.delivery_id, Outcome.FAILED, error="late") for r, _ in dead]
    with unit_of_work(sessions) as session:
        dispatch.record(session=session, owner="dead", results=stale, attempts={})
        assert states(session) == {"sending": 3}


def test_retries_back_off_and_give_up_after_max_attempts(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        hosting_catalog(session)
        site(session, customer(session, email="retry@example.com"), ["dns"])
        open_dns_outage(session)
    with Receiver() as receiver:
        for attempt in range(1, 4):
            tally = run_dispatch(engine, receiver.url, max_attempts=3)
            assert tally.claimed == 1
            with unit_of_work(sessions) as session:
                (row,) = rows(session)
                assert row.attempts == attempt
                # make it due now, as time passing would
                session.execute(update(Delivery).values(next_attempt_at=utcnow()))
    with sessions() as session:
        (row,) = rows(session)
        assert row.state is DeliveryState.failed
        assert (row.last_error or "").startswith("gave up after 3 attempts")


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    policy = dispatch.Policy(backoff_base=10, backoff_cap=100)
    rng = random.Random(1)
    delays = [dispatch.backoff(n, policy, rng=rng) for n in range(1, 7)]
    for n, delay in enumerate(delays, start=1):
        step = min(100, 10 * 2 ** (n - 1))
        assert step / 2 <= delay <= step
    assert dispatch.backoff(1, policy, retry_after=500, rng=rng) == 500


def test_sweep_finds_ranges_with_due_or_expired_rows(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        hosting_catalog(session)
        for _ in range(5):
            site(session, customer(session), ["dns"])
        open_dns_outage(session)
        ids = [d.id for d in rows(session)]
    with unit_of_work(sessions) as session:
        assert ledger.unfinished_ranges(session=session, size=2) == sorted(
            {(i // 2 * 2, i // 2 * 2 + 1) for i in ids}
        )
        session.execute(
            update(Delivery).values(state=DeliveryState.sent).where(Delivery.id != ids[-1])
        )
    with unit_of_work(sessions) as session:
        last = ids[-1]
        assert ledger.unfinished_ranges(session=session, size=2) == [
            (last // 2 * 2, last // 2 * 2 + 1)
        ]


def test_the_inline_worker_sends_when_kicked(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        hosting_catalog(session)
        for _ in range(3):
            site(session, customer(session), ["dns"])
    with Receiver() as receiver:
        dispatcher = dispatch.Dispatcher(
            engine=engine,
            settings=_settings(engine),
            channels={"email": HttpChannel(receiver.url)},
        )
        worker = dispatch.InlineWorker(dispatcher, idle_seconds=30).start()
        try:
            with unit_of_work(sessions) as session:
                open_dns_outage(session)
            worker.kick()
            deadline = time.monotonic() + 20
            while sum(receiver.keys.values()) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            worker.stop()
    assert sum(receiver.keys.values()) == 3
    with sessions() as session:
        assert states(session) == {"sent": 3}


def test_a_webhook_that_keeps_failing_is_switched_off_and_owed_nothing(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        hosting_catalog(session)
        broken = catalog_service.add_subscriber(
            session=session, kind=SubscriberKind.webhook, confirmed=True,
            address="https://bad.example.org/hook",
        ).id  # fmt: skip
        working = catalog_service.add_subscriber(
            session=session, kind=SubscriberKind.webhook, confirmed=True,
            address="https://good.example.org/hook",
        ).id  # fmt: skip
        incident_id = open_dns_outage(session)
    settings = _settings(engine).model_copy(update={"webhook_disable_after": 2})

    def send(url: str) -> None:
        channel = HttpChannel(url)
        dispatcher = dispatch.Dispatcher(
            engine=engine, settings=settings, channels={"webhook": channel}
        )

        async def go() -> None:
            try:
                await dispatcher.drain()
            finally:
                await dispatcher.close()

        asyncio.run(go())

    def update_notice(text: str) -> int:
        with unit_of_work(sessions) as session:
            _, result = flows.post_update(
                session=session, incident_id=incident_id,
                status=IncidentStatus.identified, message=text,
            )  # fmt: skip
            return result.deliveries if result else 0

    with Receiver() as receiver:
        send(receiver.url)  # first notice: the broken endpoint fails once
        assert update_notice("Found it") == 2
        send(receiver.url)  # second failure in a row: switched off
        with sessions() as session:
            assert session.get(Subscriber, broken).disabled_at is not None
            assert session.get(Subscriber, working).disabled_at is None
        assert update_notice("Fixing it") == 1  # only the working endpoint is owed
    assert len(receiver.keys) == 2


def test_an_apology_the_auditor_blocks_is_refused_unless_overridden(catalog: Session) -> None:
    from amends.errors import Conflict
    from amends.facts import service as facts_service
    from amends.facts.kinds import CauseOwner, Exposure
    from amends.facts.models import AuditOverride

    for n in range(2):
        site(catalog, customer(catalog, locale=("es", "en")[n]), ["dns"])
    catalog_service.add_subscriber(
        session=catalog, kind=SubscriberKind.email, address="watcher@example.org", confirmed=True
    )
    incident_id = open_dns_outage(catalog)
    flows.resolve(session=catalog, incident_id=incident_id, message="Fixed", notify=False)
    facts_service.record_facts(
        session=catalog, incident_id=incident_id, cause_owner=CauseOwner.internal,
        root_cause="a denial-of-service attack by hackers took our DNS down",
        actions_taken=["we restored DNS"],
    )  # fmt: skip
    facts_service.assess_exposure(
        session=catalog, incident_id=incident_id, exposure=Exposure.none, signed_off_by="CISO"
    )
    before = len(rows(catalog))
    catalog.commit()
    args = {"session": catalog, "incident_id": incident_id, "company": "Hostia",
            "public_url": "https://status.example"}  # fmt: skip
    with pytest.raises(Conflict, match="N4"):
        flows.apologise(**args)  # type: ignore[arg-type]
    catalog.rollback()  # the caller's unit of work: nothing of the refused notice remains
    assert len(rows(catalog)) == before
    result, reports = flows.apologise(
        **args,
        override_by="Ana (comms lead)",
        override_reason="legal approved",  # type: ignore[arg-type]
    )
    assert set(reports) == {"en", "es"} and all(r.blocked for r in reports.values())
    assert result.deliveries == 2  # the two customers; the subscriber gets no apology
    overrides = catalog.scalars(select(AuditOverride)).all()
    assert {(o.locale, o.who) for o in overrides} == {
        ("en", "Ana (comms lead)"),
        ("es", "Ana (comms lead)"),
    }
    assert all("N4" in o.rules for o in overrides)
