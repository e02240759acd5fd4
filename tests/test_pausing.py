"""Pausing and resuming a send (delivery/pausing.py), on both databases.

Messages go through the real e-mail channel to an SMTP sink on 127.0.0.1:
a paused notice's rows are never claimed — inline, by a chunk already
claimed, by the inline worker, by the distributed jobs and their sweep —
and after resume the rest goes out, every message exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from amends import flows
from amends.cadence import holding
from amends.cli import app as cli_app
from amends.config import Settings
from amends.db import make_engine, session_factory, unit_of_work, utcnow
from amends.delivery import dispatch, leases, pausing
from amends.delivery import ledger as delivery_ledger
from amends.delivery import service as delivery_service
from amends.delivery.channels.base import Channel, Message, SendResult, channel_class
from amends.delivery.dispatch import Dispatcher, Policy
from amends.delivery.models import Delivery, DeliveryState, Notice, NoticeKind
from amends.errors import NotFound
from amends.incidents.models import ComponentStatus, IncidentStatus
from amends.users.models import AuditEntry
from tests import factories
from tests.conftest import _truncate_postgres
from tests.subscription_support import Sink, mail_settings, smtp_sink

CUSTOMERS = 12


def world(session: Session, customers: int = CUSTOMERS) -> tuple[int, int, int]:
    """An incident with two notices to every affected customer (the first
    notice, then an update): (incident, first notice, update notice)."""
    factories.hosting_catalog(session)
    for _ in range(customers):
        factories.site(session, factories.customer(session), ["web-hosting"])
    incident, first = flows.open_incident(
        session=session, title="DNS", components={"dns": ComponentStatus.major_outage}
    )
    _, later = flows.post_update(
        session=session, incident_id=incident.id, status=IncidentStatus.identified,
        message="A router update; rolling it back.",
    )  # fmt: skip
    assert first is not None and later is not None
    session.commit()
    return incident.id, first.notice.id, later.notice.id


def states(session: Session, notice_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Delivery.state, func.count())
        .where(Delivery.notice_id == notice_id)
        .group_by(Delivery.state)
    )
    return {str(s): n for s, n in rows}


def keys(sink: Sink) -> Counter[str]:
    """Message-IDs received: deterministic per ledger row, so a duplicate shows."""
    return Counter(str(m["Message-ID"]) for m in sink.messages)


def drain(
    engine: Engine,
    settings: Settings,
    channel: Channel | None = None,
    lanes: int = 2,
    **kw: object,
) -> int:
    email = channel or channel_class("email").from_settings(settings)
    dispatcher = Dispatcher(engine=engine, settings=settings, channels={"email": email}, **kw)  # type: ignore[arg-type]

    async def go() -> int:
        try:
            # a claim that took paused rows would loop (taken, released, taken…): fail instead
            return (await asyncio.wait_for(dispatcher.drain(lanes=lanes), 30)).sent
        finally:
            await dispatcher.close()

    return asyncio.run(go())


def test_pause_and_resume_mark_notices_and_are_audited(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        incident, first, later = world(session, customers=2)
        done = pausing.pause(session=session, incident_id=incident, notice_id=first, by="ana")
        assert (done.changed, done.paused) == (1, 1)
        again = pausing.pause(session=session, incident_id=incident, by="bob")
        assert (again.changed, again.paused) == (1, 2)  # the first keeps ana as who paused it
        session.commit()
        found = delivery_ledger.counts(session=session, incident_id=incident)
        by = {n["id"]: n["paused_by"] for n in found.notices}
        assert by == {first: "ana", later: "bob"} and found.paused == 2
        assert all(n["paused_at"] for n in found.notices)
        assert pausing.count_paused(session=session) == 2
        with pytest.raises(NotFound):  # another incident's notice, or none
            pausing.pause(session=session, incident_id=incident, notice_id=first + 99, by="ana")
        session.rollback()
        back = pausing.resume(session=session, incident_id=incident, notice_id=later, by="carl")
        assert (back.changed, back.paused) == (1, 1)
        assert pausing.resume(session=session, incident_id=incident, by="carl").changed == 1
        session.commit()
        assert delivery_ledger.counts(session=session, incident_id=incident).paused == 0
        log = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.target, AuditEntry.detail)
            .order_by(AuditEntry.id)
        ).all()  # fmt: skip
    assert [tuple(r) for r in log] == [
        ("ana", "deliveries.pause", f"incident {incident} notice {first}", "1 notices paused"),
        ("bob", "deliveries.pause", f"incident {incident}", "1 notices paused"),
        ("carl", "deliveries.resume", f"incident {incident} notice {later}", "1 notices resumed"),
        ("carl", "deliveries.resume", f"incident {incident}", "1 notices resumed"),
    ]


def test_a_paused_notice_is_not_sent_and_resume_sends_the_rest_once(
    database_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        incident, first, later = world(session)
        pausing.pause(session=session, incident_id=incident, notice_id=first, by="ana")
        session.commit()
    with smtp_sink() as (sink, port):
        settings = mail_settings(database_url, port)
        assert drain(engine, settings) == CUSTOMERS  # the update only
        with sessions() as session:
            assert states(session, first) == {"pending": CUSTOMERS}
            assert states(session, later) == {"sent": CUSTOMERS}
            pausing.resume(session=session, incident_id=incident, by="ana")
            session.commit()
        assert drain(engine, settings) == CUSTOMERS
        received = keys(sink)
    assert len(received) == 2 * CUSTOMERS and set(received.values()) == {1}
    with sessions() as session:
        assert states(session, first) == states(session, later) == {"sent": CUSTOMERS}
        attempts = session.scalars(select(Delivery.attempts).distinct()).all()
    assert attempts == [1]  # skipped rows were never counted as tried


class PausingAfterFirstChunk(Channel):
    """The real e-mail channel; after its first chunk went to the relay, an
    operator pauses the incident (committed from another session)."""

    name = "email"

    def __init__(self, inner: Channel, sessions: sessionmaker[Session], incident: int) -> None:
        self.inner, self.sessions, self.incident = inner, sessions, incident
        self.limits = inner.limits
        self.chunks = 0

    async def open(self) -> None:
        await self.inner.open()

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        results = await self.inner.send(messages)
        self.chunks += 1
        if self.chunks == 1:
            with unit_of_work(self.sessions) as session:
                pausing.pause(session=session, incident_id=self.incident, by="ana")
        return results

    async def close(self) -> None:
        await self.inner.close()


def test_a_pause_stops_a_claimed_batch_between_chunks(
    database_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """One batch holds every row; the pause lands after its first chunk of 5:
    that chunk finishes, the rest of the batch goes back to pending untried."""
    with sessions() as session:
        incident, first, later = world(session)
    with smtp_sink() as (sink, port):
        settings = mail_settings(database_url, port)
        email = channel_class("email").from_settings(settings)
        channel = PausingAfterFirstChunk(email, sessions, incident)
        policy = Policy(batch_size=1000, chunk_size=5)
        assert drain(engine, settings, channel, lanes=1, policy=policy) == 5
        assert len(sink.messages) == 5
        with sessions() as session:
            assert states(session, first) == {"sent": 5, "pending": CUSTOMERS - 5}
            assert states(session, later) == {"pending": CUSTOMERS}
            held = session.scalars(
                select(Delivery.id).where(Delivery.lease_owner.is_not(None))
            ).all()
            assert held == []
            pausing.resume(session=session, incident_id=incident, by="ana")
            session.commit()
        assert drain(engine, settings, policy=policy) == 2 * CUSTOMERS - 5
        received = keys(sink)
    assert len(received) == 2 * CUSTOMERS and set(received.values()) == {1}


def test_the_claim_reads_around_a_paused_notices_runs(session: Session) -> None:
    """Rows of the paused notice on both sides of another notice's rows: the
    runs hold only the paused notice's ids, and a claim reading around them
    finds exactly the other notice's rows."""
    incident, first, later = world(session, customers=6)  # first: 6 ids, the update's 6 next
    for _ in range(3):  # three more customers hit: the first notice owes them after the update's
        factories.site(session, factories.customer(session), ["web-hosting"])
    delivery_service.issue_notice(session=session, incident_id=incident, kind=NoticeKind.first)
    session.commit()
    ids = dict(
        session.execute(
            select(Delivery.notice_id, func.min(Delivery.id)).group_by(Delivery.notice_id)
        ).all()
    )
    low = ids[first]
    since = session.scalar(  # PostgreSQL spends ids on the rows the re-issue skipped
        select(func.min(Delivery.id)).where(Delivery.notice_id == first, Delivery.id > ids[later])
    )
    assert since is not None and since > ids[later] + 5
    runs = pausing.runs(session=session, notice_id=first, min_rows=1)
    assert runs == [(low, low + 5), (since, since + 2)]
    assert pausing.runs(session=session, notice_id=first, min_rows=4) == [(low, low + 5)]
    pausing.pause(session=session, incident_id=incident, notice_id=first, by="ana")
    session.commit()
    skips = pausing.Skips(min_rows=1)
    assert skips.ranges(session=session) == runs
    for skip in ([], runs):  # filtered through, or read around: the same rows
        claimed = leases.claim(
            session=session, owner="w", limit=100, lease_seconds=60, channels=["email"], skip=skip
        )
        assert sorted(r.notice_id for r, _ in claimed) == [later] * 6
        session.rollback()
    # a job's range inside a run claims nothing of it
    inside = leases.claim(
        session=session, owner="w", limit=100, lease_seconds=60, channels=["email"],
        first_id=low, last_id=low + 5, skip=runs,
    )  # fmt: skip
    assert inside == []


def test_segments_are_the_parts_outside_the_skipped_ranges() -> None:
    assert pausing.segments([], None, None) == [(None, None)]
    assert pausing.segments([(5, 9)], None, None) == [(None, 4), (10, None)]
    assert pausing.segments([(5, 9), (10, 12), (20, 30)], 1, 25) == [(1, 4), (13, 19)]
    assert pausing.segments([(5, 9)], 5, 9) == []
    assert pausing.segments([(5, 9)], 7, 15) == [(10, 15)]
    assert pausing.segments([(5, 9)], 1, 3) == [(1, 3)]


def test_the_inline_worker_sends_a_resumed_notice_when_kicked(
    database_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        incident, first, later = world(session)
        pausing.pause(session=session, incident_id=incident, by="ana")
        session.commit()
    with smtp_sink() as (sink, port):
        settings = mail_settings(database_url, port)
        email = channel_class("email").from_settings(settings)
        dispatcher = Dispatcher(engine=engine, settings=settings, channels={"email": email})
        worker = dispatch.InlineWorker(dispatcher, idle_seconds=60).start()
        try:
            time.sleep(1.0)  # its first round ran: nothing was claimed
            with sessions() as session:
                assert states(session, first) == states(session, later) == {"pending": CUSTOMERS}
                pausing.resume(session=session, incident_id=incident, notice_id=later, by="ana")
                session.commit()
            worker.kick()
            sink.wait_for("c", count=CUSTOMERS)  # every address holds "c"
            with sessions() as session:
                assert states(session, first) == {"pending": CUSTOMERS}
                pausing.resume(session=session, incident_id=incident, by="ana")
                session.commit()
            worker.kick()
            sink.wait_for("c", count=2 * CUSTOMERS)
        finally:
            worker.stop()
        received = keys(sink)
    assert len(received) == 2 * CUSTOMERS and set(received.values()) == {1}


def test_no_holding_update_while_a_notice_is_paused(sessions: sessionmaker[Session]) -> None:
    then = utcnow() - dt.timedelta(hours=1)
    with sessions() as session:
        factories.hosting_catalog(session)
        factories.site(session, factories.customer(session), ["dns"])
        incident, _ = flows.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage},
            started_at=then, cadence={"auto_holding_update": True}, now=then,
        )  # fmt: skip
        session.execute(update(Delivery).values(state=DeliveryState.sent))
        pausing.pause(session=session, incident_id=incident.id, by="ana")
        session.commit()
        incident_id = incident.id
    assert holding.post_overdue(sessions=sessions) == []
    with sessions() as session:
        pausing.resume(session=session, incident_id=incident_id, by="ana")
        session.commit()
    assert holding.post_overdue(sessions=sessions) == [incident_id]


def test_the_cli_pauses_shows_and_resumes(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        incident, first, _ = world(session, customers=2)
    env = {"AMENDS_DATABASE_URL": database_url, "COLUMNS": "200"}
    runner = CliRunner()
    paused = runner.invoke(
        cli_app,
        ["deliveries", "pause", str(incident), "--notice", str(first), "--by", "ana", "--json"],
        env=env,
    )
    assert paused.exit_code == 0, paused.output
    assert '"paused": 1' in paused.output and '"paused_now": 1' in paused.output
    shown = runner.invoke(cli_app, ["deliveries", str(incident)], env=env)
    assert shown.exit_code == 0, shown.output
    assert "paused by ana" in shown.output and "1 notice(s) paused" in shown.output
    resumed = runner.invoke(cli_app, ["deliveries", "resume", str(incident)], env=env)
    assert resumed.exit_code == 0, resumed.output
    assert "1 resumed; 0 paused now" in resumed.output
    missing = runner.invoke(cli_app, ["deliveries", "pause"], env=env)
    assert missing.exit_code != 0
    with sessions() as session:
        assert session.scalar(select(func.count()).where(Notice.paused_at.is_not(None))) == 0
        actors = session.scalars(select(AuditEntry.actor).order_by(AuditEntry.id)).all()
    assert actors == ["ana", "cli"]


# -- distributed: Procrastinate jobs and their sweep (PostgreSQL) -------------


@pytest.fixture
def pg_url(postgres_database: str) -> Iterator[str]:
    yield postgres_database
    engine = make_engine(postgres_database)
    _truncate_postgres(engine)
    engine.dispose()


async def _run_jobs(deliveries: object) -> int:
    from amends.delivery.jobs import Deliveries

    assert isinstance(deliveries, Deliveries)
    async with deliveries.app.open_async():
        await deliveries.ensure_schema()
        await deliveries.app.connector.execute_query_async("DELETE FROM procrastinate_jobs")
        enqueued = await deliveries.enqueue_unfinished()
        await deliveries.run_worker(wait=False, concurrency=2, install_signal_handlers=False)
    return enqueued


@pytest.mark.postgres
def test_the_sweep_skips_paused_rows_and_jobs_send_the_rest_after_resume(pg_url: str) -> None:
    from amends.delivery.jobs import Deliveries

    engine = make_engine(pg_url)
    sessions = session_factory(engine)
    with sessions() as session:
        incident, first, later = world(session, customers=30)  # first: ids 1-30, update: 31-60
        pausing.pause(session=session, incident_id=incident, notice_id=first, by="ana")
        session.commit()
        assert delivery_ledger.unfinished_ranges(session=session, size=10) == [
            (30, 39), (40, 49), (50, 59), (60, 69),
        ]  # fmt: skip
    with smtp_sink() as (sink, port):
        settings = mail_settings(pg_url, port)

        def jobs() -> int:
            email = channel_class("email").from_settings(settings)
            deliveries = Deliveries(settings, channels={"email": email}, range_size=10)
            return asyncio.run(_run_jobs(deliveries))

        assert jobs() == 4
        with sessions() as session:
            assert states(session, first) == {"pending": 30}
            assert states(session, later) == {"sent": 30}
        assert jobs() == 0  # the sweep finds nothing to enqueue while the rest is paused
        with sessions() as session:
            pausing.resume(session=session, incident_id=incident, by="ana")
            session.commit()
        assert jobs() == 4  # ids 1-30: ranges 0-9, 10-19, 20-29 and 30-39
        received = keys(sink)
    with sessions() as session:
        assert states(session, first) == states(session, later) == {"sent": 30}
    engine.dispose()
    assert len(received) == 60 and set(received.values()) == {1}
