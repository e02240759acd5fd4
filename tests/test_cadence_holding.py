"""The automatic holding update: posted once when an update is overdue, through the
ledger, in each customer's language; never for incidents that did not opt in,
are resolved, or have not told anyone yet (both databases)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from amends import flows
from amends.api.app import create_app
from amends.cadence import holding
from amends.cadence import service as cadence_service
from amends.config import Settings
from amends.db import unit_of_work
from amends.delivery.models import Delivery, Notice, NoticeKind
from amends.incidents.models import (
    ComponentStatus,
    HoldingUpdate,
    IncidentCadence,
    IncidentUpdate,
)
from amends.messages.notices import NoticeRenderer, Row
from tests import factories
from tests.api_support import in_process

T0 = dt.datetime(2012, 9, 10, 17, 25, tzinfo=dt.UTC)
M = dt.timedelta(minutes=1)


def _catalog(session: Session) -> None:
    """Two customers hit by DNS: one reads Spanish in Madrid, one English in Phoenix."""
    factories.hosting_catalog(session)
    ana = factories.customer(session, name="Ana", locale="es", timezone="Europe/Madrid")
    joe = factories.customer(session, name="Joe", locale="en", timezone="America/Phoenix")
    factories.site(session, ana, ["email"])
    factories.site(session, joe, ["web-hosting"])


def _open(session: Session, *, auto: bool = True, notify: bool = True) -> int:
    incident, _ = flows.open_incident(
        session=session,
        title="DNS down",
        components={"dns": ComponentStatus.major_outage},
        started_at=T0,
        notify=notify,
        cadence={"auto_holding_update": auto},
        now=T0,
    )
    return incident.id


def _holding_notices(session: Session, incident_id: int) -> list[Notice]:
    return list(
        session.scalars(
            select(Notice)
            .join(HoldingUpdate, HoldingUpdate.update_id == Notice.update_id)
            .where(Notice.incident_id == incident_id, Notice.kind == NoticeKind.update)
        )
    )


def test_posted_when_overdue_with_its_promise(session: Session) -> None:
    _catalog(session)
    iid = _open(session)
    assert holding.post_if_overdue(session=session, incident_id=iid, now=T0 + 29 * M) is None
    held = holding.post_if_overdue(session=session, incident_id=iid, now=T0 + 31 * M)
    assert held is not None
    assert (held.due_at, held.next_update_at) == (T0 + 30 * M, T0 + 61 * M)
    update = session.get(IncidentUpdate, held.update_id)
    assert update is not None and update.customer_facing
    assert update.message == ("We are still working on it. Our next update will come by 18:26 UTC.")
    # Asked again at once: the deadline was answered, the next is 30 minutes on.
    assert holding.post_if_overdue(session=session, incident_id=iid, now=T0 + 32 * M) is None
    found = cadence_service.standing(session=session, incident_id=iid, now=T0 + 32 * M)
    assert found is not None
    assert [(d.notice.value, d.due_at, d.overdue) for d in found.due] == [
        ("update", T0 + 61 * M, False)
    ]
    # Still silent half an hour later: the next holding update.
    again = holding.post_if_overdue(session=session, incident_id=iid, now=T0 + 62 * M)
    assert again is not None and again.due_at == T0 + 61 * M
    assert len(_holding_notices(session, iid)) == 2


def test_the_holding_notice_speaks_each_customers_language(session: Session) -> None:
    _catalog(session)
    iid = _open(session)
    held = holding.post_if_overdue(session=session, incident_id=iid, now=T0 + 40 * M)
    assert held is not None
    (notice,) = _holding_notices(session, iid)
    rows = session.scalars(
        select(Delivery).where(Delivery.notice_id == notice.id).order_by(Delivery.id)
    ).all()
    assert {(r.locale, r.channel) for r in rows} >= {("es", "email"), ("en", "email")}
    renderer = NoticeRenderer(public_url="https://status.example", sender="Hosting")
    messages = renderer.render(
        session,
        [
            Row(
                r.id,
                r.notice_id,
                str(r.recipient_kind),
                r.recipient_id,
                r.channel,
                r.address,
                r.locale,
            )
            for r in rows
            if r.recipient_kind == "customer"
        ],
    )
    by_locale = {m.locale: m for m in messages if m.subject}
    # next update by 18:35 UTC: 20:35 in Madrid, 11:35 in Phoenix (no daylight saving)
    es, en = by_locale["es"].text, by_locale["en"].text
    assert "Seguimos trabajando para solucionarlo." in es
    assert "Le enviaremos la próxima actualización antes del 10 sept 2012 20:35" in es
    assert "We are still working on it." in en
    assert "Our next update will come by 10 Sep 2012 11:35" in en
    assert "We are still working on it." not in es  # the timeline's English stays out


def test_not_posted_unless_opted_in_open_and_already_told(session: Session) -> None:
    _catalog(session)
    plain = _open(session, auto=False)
    draft = _open(session, notify=False)  # nobody told yet: the first notice is a person's
    resolved = _open(session)
    flows.resolve(session=session, incident_id=resolved, message="Back", now=T0 + 10 * M)
    late = T0 + 5 * 60 * M
    for incident_id in (plain, draft, resolved):
        assert holding.post_if_overdue(session=session, incident_id=incident_id, now=late) is None
    assert session.scalars(select(HoldingUpdate)).all() == []
    assert holding.candidates(session=session) == [draft]


def test_two_workers_at_once_post_one(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        _catalog(session)
        iid = _open(session)
    now = T0 + 45 * M
    start = threading.Barrier(2)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            results.append(holding.post_overdue(sessions=sessions, now=now))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(results) == [[], [iid]]
    with sessions() as session:
        assert len(session.scalars(select(HoldingUpdate)).all()) == 1
        assert len(_holding_notices(session, iid)) == 1
        updates = session.scalars(select(IncidentUpdate).where(IncidentUpdate.incident_id == iid))
        assert len(updates.all()) == 2  # the opening entry and one holding update


def test_cron_command_posts_once(database_url: str, sessions: sessionmaker[Session]) -> None:
    from amends.cli import app as cli

    with unit_of_work(sessions) as session:
        _catalog(session)
        iid = _open(session)
    env = {"AMENDS_DATABASE_URL": database_url}
    runner = CliRunner()
    first = runner.invoke(cli, ["cadence", "--send-holding-updates"], env=env)
    assert first.exit_code == 0, first.output
    assert "holding updates posted: 1" in first.output
    second = runner.invoke(cli, ["cadence", "--send-holding-updates", "--overdue"], env=env)
    assert second.exit_code == 0, second.output  # nothing is late any more
    assert "holding updates posted: 0" in second.output
    with sessions() as session:
        assert len(_holding_notices(session, iid)) == 1


def test_a_second_worker_waits_and_finds_it_answered(
    sessions: sessionmaker[Session],
) -> None:
    """B comes while A's holding update is not yet committed: B waits for A's
    lock and then finds nothing owed."""
    with unit_of_work(sessions) as session:
        _catalog(session)
        iid = _open(session)
    now = T0 + 45 * M
    outcome: list[object] = []
    with sessions() as a:
        assert holding.post_if_overdue(session=a, incident_id=iid, now=now) is not None

        def b() -> None:
            with unit_of_work(sessions) as session:
                outcome.append(holding.post_if_overdue(session=session, incident_id=iid, now=now))

        other = threading.Thread(target=b)
        other.start()
        other.join(0.5)
        assert other.is_alive()  # waiting on A's lock (row on PostgreSQL, database on SQLite)
        a.commit()
    other.join(30)
    assert outcome == [None]
    with sessions() as session:
        assert len(_holding_notices(session, iid)) == 1


@pytest.mark.anyio
async def test_amends_serve_posts_it_from_its_inline_worker(settings: Settings) -> None:
    app = create_app(settings, start_dispatch=True)
    with unit_of_work(app.state.sessions) as session:
        _catalog(session)
        iid = _open(session)
    async with in_process(app):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with app.state.sessions() as session:
                if _holding_notices(session, iid):
                    break
            await asyncio.sleep(0.1)
        with app.state.sessions() as session:  # before the app's engine is disposed
            assert len(_holding_notices(session, iid)) == 1


def test_a_claimed_deadline_is_not_posted_again(session: Session) -> None:
    """The claim itself: a deadline already in ``holding_for`` is left alone,
    a later one is taken."""
    _catalog(session)
    iid = _open(session)
    row = session.get(IncidentCadence, iid)
    assert row is not None
    row.holding_for = T0 + 30 * M  # someone claimed the first deadline
    session.flush()
    assert holding.post_if_overdue(session=session, incident_id=iid, now=T0 + 40 * M) is None
    assert session.scalars(select(HoldingUpdate)).all() == []
    row.holding_for = T0 + 29 * M  # an earlier deadline: this one is still free
    session.flush()
    assert holding.post_if_overdue(session=session, incident_id=iid, now=T0 + 40 * M) is not None
    session.refresh(row)
    assert row.holding_for == T0 + 30 * M
