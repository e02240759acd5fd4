"""The after-action report over a large incident, on SQLite and PostgreSQL.

Builds a synthetic incident straight in SQL (no import needed): N customers,
four notices (first, update, resolution, apology) owed to every customer by
e-mail and to a third of them by SMS, in every ledger state, and ratings from
one customer in ten (a seventh of them with a comment). Then times
``report.service.after_action`` — every figure of ``amends report`` — against
yardsticks measured in the same run:

* **scan**: ``SELECT count(*)`` of the incident's deliveries (notices ⋈
  deliveries): one pass over the rows the report must read;
* **ledger counts**: ``delivery.ledger.counts``, the existing per-state,
  per-channel GROUP BY that ``amends deliveries`` prints.

Usage::

    python benchmarks/report.py --customers 400000 --backend both
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, bindparam, create_engine, func, select, text
from sqlalchemy.engine import make_url

from amends.db import UTCDateTime, make_engine, session_factory, unit_of_work
from amends.db.bulk import analyze
from amends.delivery import ledger as delivery_ledger
from amends.delivery.models import Delivery, Notice, NoticeKind
from amends.incidents import service as incidents
from amends.incidents.models import ComponentStatus
from amends.migrations import upgrade
from amends.ratings.models import Rating
from amends.report import service as report

PG_ADMIN = os.environ.get("AMENDS_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1/test")
DB_NAME = "amends_report_bench"
T0 = dt.datetime(2012, 9, 10, 17, 25, tzinfo=dt.UTC)
SERIES = "WITH RECURSIVE seq(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM seq WHERE g < :n) "


def build(engine: Engine, customers: int) -> int:
    """One incident, its notices and ledger rows, and ratings: set-based SQL only."""
    started = time.perf_counter()
    stamp = bindparam("t", T0, type_=UTCDateTime)
    with unit_of_work(session_factory(engine)) as session:
        from amends.catalog import service as catalog

        catalog.save_component(session=session, key="dns", name="DNS")
        incident = incidents.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage},
            started_at=T0, now=T0,
        )  # fmt: skip
        incidents.resolve(
            session=session, incident_id=incident.id, message="ok",
            resolved_at=T0 + dt.timedelta(hours=6), now=T0 + dt.timedelta(hours=6),
        )  # fmt: skip
        session.execute(
            text(
                SERIES + "INSERT INTO customers (external_id, name, email, locale, timezone, tier,"
                " notify_email, notify_sms, notify_voice, opt_out_email, opt_out_sms,"
                " opt_out_voice, created_at, updated_at)"
                " SELECT 'c' || g, 'Customer ' || g, 'c' || g || '@example.com',"
                " CASE WHEN g % 3 = 0 THEN 'es' ELSE 'en' END, 'UTC', 'standard',"
                " true, g % 3 = 0, false, false, false, false, :t, :t FROM seq"
            ).bindparams(stamp),
            {"n": customers},
        )
        first = session.scalar(select(func.min(text("id"))).select_from(text("customers")))
        kinds = [NoticeKind.first, NoticeKind.update, NoticeKind.resolution, NoticeKind.apology]
        for offset, kind in enumerate(kinds):
            notice = Notice(incident_id=incident.id, kind=kind, update_key=0, created_at=T0)
            session.add(notice)
            session.flush()
            sent = bindparam("sent", T0 + dt.timedelta(minutes=10 + 90 * offset), type_=UTCDateTime)
            for channel, every in (("email", 1), ("sms", 3)):
                session.execute(
                    text(
                        SERIES + "INSERT INTO deliveries (notice_id, recipient_kind, recipient_id,"
                        " channel, address, locale, state, attempts, next_attempt_at, created_at,"
                        " sent_at, last_error)"
                        " SELECT :notice, 'customer', :first + g - 1, :channel, 'x', 'en',"
                        " CASE g % 20 WHEN 0 THEN 'failed' WHEN 1 THEN 'suppressed'"
                        "  WHEN 2 THEN 'suppressed' WHEN 3 THEN 'pending' ELSE 'sent' END,"
                        " 1, :t, :t, CASE WHEN g % 20 >= 4 THEN :sent END,"
                        " CASE g % 20 WHEN 1 THEN 'opted out' WHEN 2 THEN 'no address' END"
                        " FROM seq WHERE g % :every = 0"
                    ).bindparams(stamp, sent),
                    {"n": customers, "notice": notice.id, "first": first, "channel": channel,
                     "every": every},
                )  # fmt: skip
        session.execute(
            text(
                SERIES + "INSERT INTO ratings (incident_id, customer_id, notice_kind, score,"
                " comment, locale, at)"
                " SELECT :incident, :first + g - 1, 'apology', 1 + g % 5,"
                " CASE WHEN g % 7 = 0 THEN 'comment ' || g END,"
                " CASE WHEN g % 3 = 0 THEN 'es' ELSE 'en' END, :t FROM seq WHERE g % 10 = 0"
            ).bindparams(stamp),
            {"n": customers, "incident": incident.id, "first": first},
        )
        incident_id = incident.id
    with engine.begin() as conn:
        for table in (Delivery.__table__, Notice.__table__, Rating.__table__):
            analyze(conn, table)  # type: ignore[arg-type]
    print(f"  built in {time.perf_counter() - started:.1f} s", flush=True)
    return incident_id


def best(action: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return min(times), result


def measure(engine: Engine, incident_id: int) -> dict[str, float]:
    sessions = session_factory(engine)

    def scan() -> int:
        with unit_of_work(sessions) as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .join(Notice, Notice.id == Delivery.notice_id)
                    .where(Notice.incident_id == incident_id)
                )
                or 0
            )

    def counts() -> Any:
        with unit_of_work(sessions) as session:
            return delivery_ledger.counts(session=session, incident_id=incident_id)

    def after_action() -> dict[str, Any]:
        with unit_of_work(sessions) as session:
            return report.after_action(session=session, incident_id=incident_id).to_dict()

    scan_s, rows = best(scan)
    counts_s, _ = best(counts)
    report_s, data = best(after_action)
    print(f"  deliveries {rows:,}; ratings {data['ratings']['count']:,}", flush=True)
    print(f"  scan yardstick       {scan_s:7.3f} s")
    print(f"  ledger counts        {counts_s:7.3f} s")
    print(f"  after_action report  {report_s:7.3f} s   "
          f"{report_s / scan_s:.1f}× scan, {report_s / counts_s:.1f}× ledger counts")  # fmt: skip
    return {"rows": rows, "scan": scan_s, "counts": counts_s, "report": report_s}


def run_sqlite(customers: int) -> None:
    print(f"SQLite {sqlite3.sqlite_version}, {customers:,} customers", flush=True)
    with tempfile.TemporaryDirectory(prefix="amends-report-bench-") as workdir:
        engine = make_engine(f"sqlite:///{workdir}/bench.db")
        upgrade(engine)
        measure(engine, build(engine, customers))
        engine.dispose()


def run_postgres(customers: int) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        version = conn.scalar(text("SHOW server_version"))
        conn.execute(text(f"DROP DATABASE IF EXISTS {DB_NAME}"))
        conn.execute(text(f"CREATE DATABASE {DB_NAME}"))
    print(f"PostgreSQL {version}, {customers:,} customers", flush=True)
    url = make_url(PG_ADMIN).set(database=DB_NAME)
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        upgrade(engine)
        measure(engine, build(engine, customers))
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {DB_NAME}"))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=400_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    now = dt.datetime.now(dt.UTC)
    print(f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
          f"{now:%Y-%m-%d %H:%M} UTC · load {os.getloadavg()[0]:.2f}")  # fmt: skip
    if args.backend in ("sqlite", "both"):
        run_sqlite(args.customers)
    if args.backend in ("postgresql", "both"):
        run_postgres(args.customers)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
