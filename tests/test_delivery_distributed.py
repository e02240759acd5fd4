"""Distributed dispatch: Procrastinate jobs in the real PostgreSQL test database."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from amends import flows
from amends.config import Settings
from amends.db import make_engine, session_factory, unit_of_work, utcnow
from amends.delivery.jobs import Deliveries
from amends.delivery.models import Delivery, DeliveryState
from amends.incidents.models import ComponentStatus
from tests.conftest import _truncate_postgres
from tests.delivery_support import HttpChannel, Receiver
from tests.factories import customer, hosting_catalog, site

pytestmark = pytest.mark.postgres

CUSTOMERS = 30


@pytest.fixture
def pg_url(postgres_database: str) -> Iterator[str]:
    """The run's PostgreSQL test database, emptied afterwards like ``database_url``."""
    yield postgres_database
    engine = make_engine(postgres_database)
    _truncate_postgres(engine)
    engine.dispose()


def build(url: str) -> None:
    engine = make_engine(url)
    with unit_of_work(session_factory(engine)) as session:
        hosting_catalog(session)
        for _ in range(CUSTOMERS):
            site(session, customer(session), ["dns"])
        flows.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage}
        )
    engine.dispose()


def by_state(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with Session(engine) as session:
        found = dict(
            session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
        )
    engine.dispose()
    return {str(k): v for k, v in found.items()}


async def run_jobs(deliveries: Deliveries, *, sweep: bool = True) -> int:
    async with deliveries.app.open_async():
        await deliveries.ensure_schema()
        await deliveries.app.connector.execute_query_async("DELETE FROM procrastinate_jobs")
        enqueued = await deliveries.enqueue_unfinished() if sweep else 0
        await deliveries.run_worker(wait=False, concurrency=2, install_signal_handlers=False)
    return enqueued


def test_jobs_carry_ranges_and_the_sweep_recovers_expired_leases(pg_url: str) -> None:
    build(pg_url)
    with Receiver() as receiver:
        channel = HttpChannel(receiver.url)
        settings = Settings(database_url=pg_url, auto_migrate=False)
        deliveries = Deliveries(settings, channels={"email": channel}, range_size=10)
        enqueued = asyncio.run(run_jobs(deliveries))
        assert enqueued in (3, 4)  # 30 rows in ranges of 10 ids
        assert by_state(pg_url) == {"sent": CUSTOMERS}
        assert sum(receiver.keys.values()) == CUSTOMERS == len(receiver.keys)

        # A worker died holding five rows; once the lease expires the sweep
        # finds them and another worker sends them. Nothing else is resent.
        engine = make_engine(pg_url)
        with unit_of_work(session_factory(engine)) as session:
            ids = session.scalars(select(Delivery.id).order_by(Delivery.id).limit(5)).all()
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids))
                .values(
                    state=DeliveryState.sending,
                    lease_owner="dead",
                    lease_until=utcnow() - dt.timedelta(seconds=1),
                )
            )
        engine.dispose()
        deliveries = Deliveries(settings, channels={"email": HttpChannel(receiver.url)})
        assert asyncio.run(run_jobs(deliveries)) == 1
    assert by_state(pg_url) == {"sent": CUSTOMERS}
    assert sum(receiver.keys.values()) == CUSTOMERS + 5  # exactly the five taken over


def test_amends_worker_posts_and_sends_the_holding_update(pg_url: str) -> None:
    """The periodic task ``amends worker`` runs every minute: an opted-in
    incident whose update is overdue gets its holding update, and the same
    worker sends it."""
    from amends.cadence.jobs import HOLDING, install

    engine = make_engine(pg_url)
    with unit_of_work(session_factory(engine)) as session:
        hosting_catalog(session)
        for _ in range(3):
            site(session, customer(session), ["dns"])
        then = utcnow() - dt.timedelta(hours=1)
        flows.open_incident(
            session=session,
            title="DNS",
            components={"dns": ComponentStatus.major_outage},
            started_at=then,
            cadence={"auto_holding_update": True},
            now=then,
        )
        session.execute(update(Delivery).values(state=DeliveryState.sent))  # told an hour ago
    engine.dispose()
    with Receiver() as receiver:
        settings = Settings(database_url=pg_url, auto_migrate=False)
        deliveries = Deliveries(settings, channels={"email": HttpChannel(receiver.url)})
        install(deliveries)

        async def run() -> None:
            async with deliveries.app.open_async():
                await deliveries.ensure_schema()
                await deliveries.app.connector.execute_query_async("DELETE FROM procrastinate_jobs")
                await deliveries.app.tasks[HOLDING].defer_async(timestamp=0)
                await deliveries.run_worker(
                    wait=False, concurrency=1, install_signal_handlers=False
                )

        asyncio.run(run())
        texts = [b["text"] for b in receiver.bodies.values()]
    assert len(texts) == 3
    assert all("Seguimos trabajando para solucionarlo." in t for t in texts), texts[0]
    assert by_state(pg_url) == {"sent": 6}
