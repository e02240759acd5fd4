"""What a paused notice costs the claim query, on SQLite and PostgreSQL.

A ledger of one incident: notice A with ``--paused-rows`` pending rows (low
ids, as a first notice's would be), then notice B with ``--rows`` pending
rows. The claim (``delivery.leases.claim``: one ``UPDATE … WHERE id IN
(SELECT … ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED)``) is timed, rolled
back each time so every run sees the same ledger, in three cases:

* **nothing paused** — the yardstick;
* **A paused, filtered**: the statement leaves A's rows out
  (``notice_id NOT IN`` the paused notices) but still walks them in id order
  before reaching B's: what the claim would cost without reading around;
* **A paused, read around**: the dispatcher's way — the id runs that hold
  only A's rows (``pausing.Skips``, found once per pause) are skipped, and
  each part outside them is one index range.

Also timed: finding the runs (once per pause and process).

Usage::

    python benchmarks/paused_claim.py --paused-rows 500000 --rows 20000 --backend both
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from amends import flows
from amends.catalog import service as catalog_service
from amends.db import make_engine, session_factory, unit_of_work
from amends.delivery import leases, pausing
from amends.delivery.models import Notice, NoticeKind
from amends.incidents.models import ComponentStatus
from amends.migrations import upgrade

PG = os.environ.get(
    "AMENDS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ROWS_SQL = """
INSERT INTO deliveries (notice_id, recipient_kind, recipient_id, channel, address, locale,
                        state, attempts, next_attempt_at, created_at)
SELECT :notice, 'customer', n, 'email', 'c' || n || '@example.com', 'en',
       'pending', 0, :now, :now
FROM {numbers}
"""
NUMBERS = {
    "postgresql": "generate_series(1, :count) AS g(n)",
    "sqlite": "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < :count)"
    " SELECT n FROM s)",
}


def build(engine: Engine, paused_rows: int, rows: int) -> tuple[int, int, int]:
    """The incident, notice A (paused later) and notice B, with their rows."""
    now = dt.datetime(2012, 9, 10, 17, 25, tzinfo=dt.UTC)
    with unit_of_work(session_factory(engine)) as session:
        catalog_service.save_component(session=session, key="dns", name="DNS")
        incident, _ = flows.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage},
            notify=False, now=now, started_at=now,
        )  # fmt: skip
        a = Notice(incident_id=incident.id, kind=NoticeKind.first, update_key=0, created_at=now)
        b = Notice(
            incident_id=incident.id, kind=NoticeKind.resolution, update_key=0, created_at=now
        )
        session.add_all([a, b])
        session.flush()
        ids = (incident.id, a.id, b.id)
    numbers = NUMBERS[engine.dialect.name]
    stamp = now.replace(tzinfo=None) if engine.dialect.name == "sqlite" else now
    with engine.begin() as conn:
        for notice, count in ((ids[1], paused_rows), (ids[2], rows)):
            sql = text(ROWS_SQL.format(numbers=numbers))
            conn.execute(sql, {"notice": notice, "count": count, "now": stamp})
        conn.execute(text("ANALYZE"))
    return ids


def claim_ms(engine: Engine, skips: pausing.Skips | None, runs: int) -> tuple[float, int]:
    """Median milliseconds of one claim of 1,000 rows (rolled back), and rows claimed."""
    times, got = [], 0
    for _ in range(runs):
        with Session(engine) as session:
            started = time.perf_counter()
            skip = skips.ranges(session=session) if skips is not None else ()
            claimed = leases.claim(
                session=session, owner="bench", limit=1000, lease_seconds=60,
                channels=["email"], skip=skip,
            )  # fmt: skip
            times.append((time.perf_counter() - started) * 1000)
            got = len(claimed)
            session.rollback()
    return statistics.median(times), got


def measure(engine: Engine, paused_rows: int, rows: int, runs: int) -> dict[str, float]:
    incident, a, _ = build(engine, paused_rows, rows)
    figures: dict[str, float] = {}
    figures["nothing paused"], _ = claim_ms(engine, None, runs)
    with unit_of_work(session_factory(engine)) as session:
        pausing.pause(session=session, incident_id=incident, notice_id=a, by="bench")
    figures["A paused, filtered"], got = claim_ms(engine, None, runs)
    assert got == min(1000, rows), got
    with Session(engine) as session:
        started = time.perf_counter()
        runs_found = pausing.runs(session=session, notice_id=a)
        figures["finding A's runs (once per pause)"] = (time.perf_counter() - started) * 1000
    assert runs_found, "A's rows form one run"
    skips = pausing.Skips()
    claim_ms(engine, skips, 1)  # the runs are found once, then kept
    figures["A paused, read around"], got = claim_ms(engine, skips, runs)
    assert got == min(1000, rows), got
    return figures


def report(name: str, figures: dict[str, float]) -> None:
    base = figures["nothing paused"]
    print(f"\n{name}")
    for label, ms in figures.items():
        ratio = "" if "finding" in label else f"  ({ms / base:.1f}× nothing paused)"
        print(f"  {label:36s} {ms:9.1f} ms{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paused-rows", type=int, default=500_000)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    print(
        f"paused notice A: {args.paused_rows:,} pending rows; notice B: {args.rows:,} after them; "
        f"claim of 1,000 rows, median of {args.runs}"
    )
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
            upgrade(engine)
            report("SQLite", measure(engine, args.paused_rows, args.rows, args.runs))
            engine.dispose()
    if args.backend in ("postgres", "both"):
        admin = create_engine(PG, isolation_level="AUTOCOMMIT")
        name = f"amends_bench_pause_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = admin.url.set(database=name).render_as_string(hide_password=False)
            engine = make_engine(url)
            upgrade(engine)
            report("PostgreSQL", measure(engine, args.paused_rows, args.rows, args.runs))
            engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
