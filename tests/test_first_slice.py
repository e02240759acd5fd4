"""A first notice written in two steps: the first slice of customers is sent
before the rest of the ledger is written; nothing is lost or doubled."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from amends import flows
from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.catalog.models import Customer
from amends.cli import app as cli_app
from amends.db import unit_of_work
from amends.delivery import slices
from amends.delivery.models import Delivery, Notice
from amends.incidents.models import ComponentStatus
from tests import factories
from tests.api_support import API, in_process, issue_key
from tests.subscription_support import mail_settings, smtp_sink

T0 = factories.T0


def catalog(session: Session, customers: int = 12) -> set[int]:
    """DNS-dependent hosting for ``customers`` customers, one spared; their ids."""
    factories.hosting_catalog(session)
    hit = set()
    for _ in range(customers):
        owner = factories.customer(session)
        factories.site(session, owner, ["web-hosting"])
        hit.add(owner.id)
    factories.site(session, factories.customer(session), ["domains"])
    session.commit()
    return hit


def rows_of(session: Session, notice_id: int) -> list[int]:
    query = select(Delivery.recipient_id).where(Delivery.notice_id == notice_id)
    return sorted(session.scalars(query))


def open_sliced(session: Session, size: int) -> Notice:
    _, result = flows.open_incident(
        session=session, title="DNS", components={"dns": ComponentStatus.major_outage},
        started_at=T0, first_slice=size, now=T0,
    )  # fmt: skip
    assert result is not None
    session.commit()
    return result.notice


def test_first_slice_then_the_rest_exactly_once(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        hit = catalog(session)
        lowest = session.scalar(select(func.min(Customer.id)))
        notice = open_sliced(session, 4)
        assert notice.rows_from == lowest + 4
        first = rows_of(session, notice.id)
        assert first == sorted(i for i in hit if i < lowest + 4)
    with sessions() as session:
        added = slices.fill(session=session, notice_id=notice.id)
        session.commit()
        assert added == len(hit) - len(first)
        assert rows_of(session, notice.id) == sorted(hit)  # one row each, e-mail
        assert session.get(Notice, notice.id).rows_from is None  # type: ignore[union-attr]
        assert slices.fill(session=session, notice_id=notice.id) == 0
        assert slices.fill_pending(session=session) == 0


def test_a_half_written_notice_is_finished_by_the_sweep(sessions: sessionmaker[Session]) -> None:
    """The writer died after the first step: the dispatch loop's catch-up finishes it."""
    with sessions() as session:
        hit = catalog(session)
        notice = open_sliced(session, 3)
    with sessions() as session:
        assert slices.fill_pending(session=session) == len(hit) - 3
        session.commit()
        assert rows_of(session, notice.id) == sorted(hit)


def test_incident_open_send_through_the_cli(
    database_url: str, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`amends incident open --send`: every affected customer gets one e-mail,
    the first slice's before the rest of the ledger exists."""
    monkeypatch.setattr(slices, "FIRST_SLICE", 5)
    with sessions() as session:
        hit = catalog(session)
        emails = dict(session.execute(select(Customer.id, Customer.email)).all())
    with smtp_sink() as (sink, port):
        env = {
            "AMENDS_DATABASE_URL": database_url,
            "AMENDS_SMTP_PORT": str(port),
            "AMENDS_SMTP_STARTTLS": "off",
            "AMENDS_MAIL_FROM": "status@hosting.example",
        }
        result = CliRunner().invoke(
            cli_app,
            ["incident", "open", "DNS", "-c", "dns=major_outage",
             "--started-at", T0.isoformat(), "--send"],
            env=env,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "first slice" in result.output
        received = sorted(str(m["To"]).split("<")[-1].rstrip(">") for m in sink.messages)
    assert received == sorted(emails[i] for i in hit)
    with sessions() as session:
        assert session.scalar(select(func.count()).where(Notice.rows_from.is_not(None))) == 0


@pytest.mark.anyio
async def test_incident_opened_through_the_api_with_the_inline_worker(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`amends serve`: the first slice goes out, the worker writes and sends the rest."""
    monkeypatch.setattr(slices, "FIRST_SLICE", 4)
    with smtp_sink() as (sink, port):
        settings = mail_settings(database_url, port)
        app = create_app(settings, start_dispatch=True)
        with unit_of_work(app.state.sessions) as session:
            hit = catalog(session)
            emails = dict(session.execute(select(Customer.id, Customer.email)).all())
        async with in_process(app, key=issue_key(app, Scope.write)) as client:
            opened = await client.post(
                f"{API}/incidents",
                json={"title": "DNS", "components": {"dns": "major_outage"},
                      "started_at": T0.isoformat()},
            )  # fmt: skip
            assert opened.status_code == 201, opened.text
            for address in (emails[i] for i in hit):
                await asyncio.to_thread(sink.wait_for, address)
        received = sorted(str(m["To"]).split("<")[-1].rstrip(">") for m in sink.messages)
        assert received == sorted(emails[i] for i in hit)  # each once
        with unit_of_work(app.state.sessions) as session:
            assert session.scalar(select(func.count()).where(Notice.rows_from.is_not(None))) == 0
        app.state.engine.dispose()
