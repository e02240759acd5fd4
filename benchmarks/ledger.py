"""The delivery ledger at provider scale, on SQLite and PostgreSQL.

Builds the reference scenario with ``import_impact.py``'s code (or reuses a
database it kept: ``--reuse``), replays the 2012 DNS outage, then times:

* **ledger creation**: ``issue_notice`` — the affected set and one
  ``INSERT … SELECT`` of (customer × chosen channel) rows plus subscribers,
  committed; target ≤ 30 s at 5 M customers;
* the same call again (idempotent: ``ON CONFLICT DO NOTHING``, adds nothing);
* **pipeline** without a network: claim → render → record over the first
  ``--pipeline`` rows with an in-process channel that accepts everything,
  i.e. what the ledger and renderer cost per message (target ≥ 5,000/s).

Yardsticks measured in the same run: the affected-customer count alone (the
impact query, no writes) and ``CREATE TABLE … AS SELECT`` of the same number
of customer rows (a raw write of as many rows, no indexes).

Usage::

    python benchmarks/ledger.py --customers 1000000 --backend both \
        --workdir /tmp/ledger-bench --keep        # build, measure, keep
    python benchmarks/ledger.py --workdir /tmp/ledger-bench --reuse   # measure again
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))
import import_impact
from amends import impact, scenario
from amends.config import Settings
from amends.db import make_engine, session_factory, unit_of_work
from amends.delivery import dispatch, service
from amends.delivery.channels.base import Channel, Message, Outcome, SendResult
from amends.delivery.models import Delivery, NoticeKind
from amends.incidents import service as incident_service
from amends.incidents.models import Incident

DB_NAME = "amends_bench_ledger"


class NullChannel(Channel):
    """Accepts every message at once: measures everything but the network."""

    name = "null"

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        return [SendResult(m.delivery_id, Outcome.SENT, provider_id=m.key) for m in messages]


def timed(label: str, figures: dict[str, float], action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = action()
    figures[label] = time.perf_counter() - started
    print(f"  {label:<34} {figures[label]:8.2f} s", flush=True)
    return result


def measure(engine: Engine, pipeline_rows: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:  # a clean ledger for every run
        session.execute(text("DELETE FROM deliveries"))
        session.execute(text("DELETE FROM notices"))
    with unit_of_work(sessions) as session:
        incident_id = session.scalar(select(func.max(Incident.id)))
        incident = incident_service.get_incident(session=session, incident_id=incident_id)
        windows = impact.failure_windows(session=session, incident=incident)
        affected = timed(
            "yardstick: affected customers",
            figures,
            lambda: session.scalar(
                select(func.count()).select_from(impact.affected_customers(windows).subquery())
            ),
        )
    print(f"  affected customers: {affected:,}")
    with unit_of_work(sessions) as session:
        session.execute(text("DROP TABLE IF EXISTS bench_yardstick"))
    with unit_of_work(sessions) as session:
        timed(
            "yardstick: CTAS as many customers",
            figures,
            lambda: session.execute(
                text(
                    "CREATE TABLE bench_yardstick AS SELECT id, email, locale FROM customers "
                    f"ORDER BY id LIMIT {int(affected)}"
                )
            ),
        )
    with unit_of_work(sessions) as session:
        session.execute(text("DROP TABLE bench_yardstick"))

    def create() -> service.NoticeResult:
        with unit_of_work(sessions) as session:
            return service.issue_notice(
                session=session, incident_id=incident_id, kind=NoticeKind.first
            )

    result = timed("ledger: first notice (committed)", figures, create)
    print(f"  ledger rows: {result.deliveries:,}")
    figures["rows"] = result.deliveries
    again = timed("ledger: same notice again (no-op)", figures, create)
    assert again.deliveries == 0, again

    settings = Settings(database_url=str(engine.url), auto_migrate=False)
    with unit_of_work(sessions) as session:
        first = session.scalar(select(func.min(Delivery.id)))
    last = first + pipeline_rows - 1
    dispatcher = dispatch.Dispatcher(
        engine=engine,
        settings=settings,
        channels={"email": NullChannel(), "sms": NullChannel(), "voice": NullChannel()},
        policy=dispatch.Policy(batch_size=1000, chunk_size=500),
    )

    async def drain() -> dispatch.Tally:
        try:
            return await dispatcher.drain(first_id=first, last_id=last, lanes=1)
        finally:
            await dispatcher.close()

    tally = timed("pipeline: claim+render+record", figures, lambda: asyncio.run(drain()))
    figures["pipeline rows"] = tally.sent
    rate = tally.sent / figures["pipeline: claim+render+record"]
    print(f"  pipeline: {tally.sent:,} messages, {rate:,.0f}/s")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("AMENDS_BENCH_POSTGRES_URL", import_impact.DEFAULT_POSTGRES),
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--reuse", action="store_true", help="use the databases built before")
    parser.add_argument("--pipeline", type=int, default=100_000, help="rows for the pipeline run")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"{dt.date.today()} · {import_impact.machine()}")
    files = None
    if not args.reuse:
        files = scenario.write_files(args.workdir, args.customers, args.seed)
        print(f"  {files.customer_count:,} customers, {files.site_count:,} sites")
    results: dict[str, dict[str, float]] = {}
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        print(backend)
        if backend == "sqlite":
            path = args.workdir / "ledger-bench.db"
            url = f"sqlite:///{path}"
            if not args.reuse:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
        elif args.reuse:
            url = (
                make_url(args.postgres_url)
                .set(database=DB_NAME)
                .render_as_string(hide_password=False)
            )
        else:
            url = import_impact.fresh_postgres(args.postgres_url, DB_NAME)
        if not args.reuse:
            built: dict[str, float] = {}
            assert files is not None
            import_impact.run_backend(url, files, built, reimport=False)
        engine = make_engine(url)
        from amends.migrations import upgrade

        upgrade(engine)
        if backend == "postgresql":
            with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text("VACUUM ANALYZE"))
        results[backend] = measure(engine, args.pipeline)
        engine.dispose()
    print("\nSummary")
    for backend, got in results.items():
        create = got["ledger: first notice (committed)"]
        print(
            f"  {backend}: {int(got['rows']):,} ledger rows in {create:.1f} s "
            f"({got['rows'] / create:,.0f} rows/s; "
            f"{create / got['yardstick: affected customers']:.1f}× the affected-set query, "
            f"{create / got['yardstick: CTAS as many customers']:.1f}× a raw CTAS); "
            f"pipeline {got['pipeline rows'] / got['pipeline: claim+render+record']:,.0f} msg/s"
        )


if __name__ == "__main__":
    main()
