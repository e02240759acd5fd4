"""What the cadence costs where it runs often: at every /metrics scrape, and on
the dispatcher's record step (the first-send stamp), on SQLite and PostgreSQL.

* **scrape**: ``cadence.metrics.refresh`` over ``--incidents`` open incidents,
  each with ``--updates`` update notices; yardstick in the same run: the
  scrape's existing query, ``delivery.ledger.outstanding`` (count of pending
  and leased rows) over ``--customers`` pending ledger rows.
* **first-send stamp**: ``leases.stamp_first_sent`` of the chunk's notice,
  in its own transaction; yardstick: ``leases.record`` of that chunk of 100
  sent rows (what the dispatcher writes per chunk anyway). The dispatcher
  calls the stamp once per notice and process, so per chunk it costs this
  divided by the chunks of a notice.

Usage::

    python benchmarks/cadence.py --customers 20000 --incidents 100 --updates 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parents[1]))
from tests import factories

from amends import flows
from amends.cadence import metrics as cadence_metrics
from amends.catalog import service as catalog_service
from amends.db import make_engine, session_factory, unit_of_work
from amends.delivery import leases
from amends.delivery import ledger as delivery_ledger
from amends.delivery.channels.base import Outcome, SendResult
from amends.incidents.models import ComponentStatus, IncidentStatus
from amends.migrations import upgrade

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_DB = "amends_cadence_bench"


def build(engine: Engine, customers: int, incidents: int, updates: int) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        factories.hosting_catalog(session)
        catalog_service.save_component(session=session, key="quiet", name="Quiet")
        for _ in range(customers):
            factories.site(session, factories.customer(session), ["dns"])
        flows.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage}
        )
        for n in range(incidents):  # open incidents whose notices reach nobody
            incident, _ = flows.open_incident(
                session=session,
                title=f"quiet {n}",
                components={"quiet": ComponentStatus.partial_outage},
            )
            for _ in range(updates):
                flows.post_update(
                    session=session,
                    incident_id=incident.id,
                    status=IncidentStatus.identified,
                    message="still on it",
                )


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def scrape(engine: Engine, repeat: int) -> tuple[float, float]:
    sessions = session_factory(engine)

    def cadence() -> None:
        with sessions() as session:
            cadence_metrics.refresh(session=session)

    def outstanding() -> None:
        with sessions() as session:
            delivery_ledger.outstanding(session=session)

    return timed(cadence, repeat), timed(outstanding, repeat)


def record(engine: Engine, chunks: int) -> tuple[float, float]:
    """Median seconds: one stamp call, one chunk of 100 recorded (each committed)."""
    sessions = session_factory(engine)
    stamps, records = [], []
    for _ in range(chunks):
        with unit_of_work(sessions) as session:
            claimed = leases.claim(
                session=session, owner="bench", limit=100, lease_seconds=600, channels=["email"]
            )
        results = [SendResult(row.delivery_id, Outcome.SENT, "x") for row, _ in claimed]
        attempts = {row.delivery_id: a for row, a in claimed}
        notices = sorted({row.notice_id for row, _ in claimed})
        started = time.perf_counter()
        with unit_of_work(sessions) as session:
            leases.record(session=session, owner="bench", results=results, attempts=attempts)
        records.append(time.perf_counter() - started)
        started = time.perf_counter()
        with unit_of_work(sessions) as session:
            leases.stamp_first_sent(session=session, notice_ids=notices)
        stamps.append(time.perf_counter() - started)
    return statistics.median(stamps), statistics.median(records)


def run(label: str, url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    build(engine, args.customers, args.incidents, args.updates)
    built = time.perf_counter() - started
    refresh, yardstick = scrape(engine, args.repeat)
    stamp, chunk = record(engine, args.chunks)
    engine.dispose()
    print(f"{label}: built in {built:.1f} s")
    print(
        f"  scrape: cadence gauges {refresh * 1000:.1f} ms for {args.incidents + 1} incidents "
        f"({args.updates + 1} notices each) · outstanding() {yardstick * 1000:.1f} ms over "
        f"{args.customers:,} pending rows · ratio {refresh / yardstick:.2f}"
    )
    print(
        f"  first-send stamp {stamp * 1000:.2f} ms · record of a chunk of 100 sent "
        f"{chunk * 1000:.2f} ms · ratio {stamp / chunk:.2f} (once per notice and process)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--chunks", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/cadence.db", args)
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}"'))
        conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    try:
        run("PostgreSQL", make_url(PG).set(database=PG_DB).render_as_string(False), args)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
