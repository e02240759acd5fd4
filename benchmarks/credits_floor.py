"""The floor of issuing the reference incident's credits in PostgreSQL on this machine.

What the server alone must spend on the least any issuance does, each step
the cheapest way PostgreSQL 15 has, nothing checked that construction
already guarantees:

1. **find** the affected sites — the semi-join issuance uses
   (:func:`amends.impact.caught_sites`), run by a parallel
   ``CREATE UNLOGGED TABLE … AS`` (no WAL) that also numbers them and puts
   in the constant columns, no amount computed;
2. **write** those rows, a plain copy, into a *logged* table shaped like
   ``credits`` with no index and no key;
3. the four **indexes** ``credits`` needs: its primary key, the unique
   (incident, site) that makes issuing twice harmless, by (customer, incident)
   for the redemption page, by (state, id) for billing;
4. the two **foreign keys** to big tables (sites, customers), checked by the
   merge join issuance uses; the two to one-row tables (incident, policy)
   are left out;
5. the **commit**.

An issuance can only be slower: it also computes amounts, checks the two
small keys and writes the outbox. The credits target is judged against this
(docs/benchmarks.md).

Usage (a database that ``credits.py --keep`` left, credits issued or not)::

    python benchmarks/credits_floor.py --database amends_bench_credits_5000000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parent))
import import_impact
from amends import impact
from amends.catalog.models import Site
from amends.db import make_engine, session_factory, unit_of_work
from amends.incidents import service as incident_service
from amends.incidents.models import Incident

#: the credit rows, ready: numbered, the constants in place (evaluated once,
#: while found), so that writing them is a plain copy
FOUND = (
    "CREATE UNLOGGED TABLE f_found AS SELECT 1000000000 + row_number() OVER () AS id,"
    " {incident}::integer AS incident_id, s.id AS site_id, s.customer_id,"
    " 1::integer AS policy_id, s.monthly_price_minor AS amount_minor, s.currency,"
    " 1000000::bigint AS fee_ppm, 'issued'::varchar(16) AS state, false AS auto_apply,"
    " 'floor'::varchar(100) AS issued_by, now() AS issued_at, now() AS available_at,"
    " NULL::timestamptz AS expires_at, NULL::timestamptz AS redeemed_at,"
    " NULL::timestamptz AS applied_at FROM ({find}) AS s"
)
WRITE = "INSERT INTO f_credits SELECT * FROM f_found"
KEYS = [
    ("primary key", "ALTER TABLE f_credits ADD PRIMARY KEY (id)"),
    ("unique (incident, site)", "ALTER TABLE f_credits ADD UNIQUE (incident_id, site_id)"),
    ("by (customer, incident)", "CREATE INDEX ON f_credits (customer_id, incident_id)"),
    ("by (state, id)", "CREATE INDEX ON f_credits (state, id)"),
    ("foreign key to sites", "ALTER TABLE f_credits ADD FOREIGN KEY (site_id) REFERENCES sites"),
    (
        "foreign key to customers",
        "ALTER TABLE f_credits ADD FOREIGN KEY (customer_id) REFERENCES customers",
    ),
    ("commit", "COMMIT"),
]


def find_sql(url: str) -> tuple[str, int]:
    """The affected-site semi-join of the newest incident, as SQL text, and its id."""
    engine = make_engine(url)
    with unit_of_work(session_factory(engine)) as session:
        incident_id = session.scalar(select(func.max(Incident.id)))
        incident = incident_service.get_incident(session=session, incident_id=incident_id)
        windows = impact.failure_windows(session=session, incident=incident)
        found = impact.caught_sites(
            windows, Site.id, Site.customer_id, Site.monthly_price_minor, Site.currency
        )
        sql = str(found.compile(engine, compile_kwargs={"literal_binds": True}))
    engine.dispose()
    return sql, int(incident_id)


def timed(label: str, figures: dict[str, float], run: Callable[[], object]) -> None:
    started = time.perf_counter()
    run()
    figures[label] = time.perf_counter() - started
    print(f"  {label:<28} {figures[label]:7.1f} s   load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="a database credits.py kept")
    parser.add_argument("--postgres", default="host=127.0.0.1 user=postgres", help="libpq conninfo")
    args = parser.parse_args()
    url = import_impact.DEFAULT_POSTGRES.rsplit("/", 1)[0] + f"/{args.database}"
    find, incident_id = find_sql(url)
    print(f"{time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} cores")
    with psycopg.connect(f"{args.postgres} dbname={args.database}", autocommit=True) as conn:
        for table in ("f_credits", "f_found"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute("CREATE TABLE f_credits (LIKE credits)")
        conn.execute("CHECKPOINT")  # what earlier runs left unwritten is not timed here
        figures: dict[str, float] = {}
        try:
            conn.execute("BEGIN")
            for setting in ("work_mem = '256MB'", "maintenance_work_mem = '512MB'"):
                conn.execute(f"SET LOCAL {setting}")
            found = FOUND.format(incident=incident_id, find=find)
            timed("find", figures, lambda: conn.execute(found))
            timed("write", figures, lambda: conn.execute(WRITE))
            conn.execute("SET LOCAL enable_hashjoin = off")  # the keys: by merge join
            conn.execute("SET LOCAL enable_nestloop = off")
            for label, sql in KEYS:
                timed(label, figures, lambda sql=sql: conn.execute(sql))
            rows = conn.execute("SELECT count(*) FROM f_credits").fetchone()
            total = sum(figures.values())
            print(f"  {'floor':<28} {total:7.1f} s for {rows[0]:,} credits", flush=True)
            print(f"  {'linear to 6 M credits':<28} {total * 6_000_000 / rows[0]:7.1f} s")
        finally:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            for table in ("f_credits", "f_found"):
                conn.execute(f"DROP TABLE IF EXISTS {table}")


if __name__ == "__main__":
    main()
