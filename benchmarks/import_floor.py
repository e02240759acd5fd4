"""The floor of any PostgreSQL import of the reference scenario on this machine.

What the server alone spends before an importer judges anything: ``COPY`` of
the customers and sites files, untouched, into *logged* text tables with an
identity column (the real tables are logged), ``COPY`` of the site–component
links (one ``site,component`` line each, written from the sites file first and
not timed), then the keys the real tables need, one after another. Nothing is
typed, de-duplicated, joined or checked, so an importer can only be slower;
the import target is judged against this (docs/benchmarks.md).

Usage (the files of ``import_impact.py --workdir DIR --keep``)::

    python benchmarks/import_floor.py --workdir /tmp/b5
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import psycopg

DEFAULT = "host=127.0.0.1 user=postgres dbname=postgres"
DATABASE = "amends_import_floor"

TABLES = [
    "CREATE TABLE f_customers (id bigint GENERATED ALWAYS AS IDENTITY, external_id text,"
    " name text, email text, phone text, locale text, timezone text, tier text,"
    " channels text, opt_out text)",
    "CREATE TABLE f_sites (id bigint GENERATED ALWAYS AS IDENTITY, external_id text,"
    " customer text, domain text, plan text, monthly_price_minor text, currency text,"
    " state text, components text, started_at text, ended_at text)",
    "CREATE TABLE f_links (site_id bigint, component text)",
]
COPIES = [
    ("COPY customers", "COPY f_customers (external_id, name, email, phone, locale, timezone,"
     " tier, channels, opt_out) FROM STDIN (FORMAT csv, HEADER true)", "customers.csv"),
    ("COPY sites", "COPY f_sites (external_id, customer, domain, plan, monthly_price_minor,"
     " currency, state, components, started_at, ended_at) FROM STDIN (FORMAT csv, HEADER true)",
     "sites.csv"),
    ("COPY links", "COPY f_links FROM STDIN (FORMAT csv)", "links.csv"),
]  # fmt: skip
KEYS = [
    ("customers: primary key", "ALTER TABLE f_customers ADD PRIMARY KEY (id)"),
    ("customers: unique external id", "CREATE UNIQUE INDEX ON f_customers (external_id)"),
    ("sites: primary key", "ALTER TABLE f_sites ADD PRIMARY KEY (id)"),
    ("sites: unique external id", "CREATE UNIQUE INDEX ON f_sites (external_id)"),
    ("sites: by customer", "CREATE INDEX ON f_sites (customer)"),
    ("links: primary key", "ALTER TABLE f_links ADD PRIMARY KEY (site_id, component)"),
    ("links: by component", "CREATE INDEX ON f_links (component, site_id)"),
]


def write_links(workdir: Path) -> Path:
    """One ``site,component`` line per link, the site numbered by its line."""
    links = workdir / "links.csv"
    if not links.exists():
        with open(workdir / "sites.csv", encoding="utf-8") as src, open(links, "w") as out:
            next(src)
            for number, line in enumerate(src, 1):
                for component in line.split(",")[7].split(";"):
                    out.write(f"{number},{component}\n")
    return links


def timed(label: str, figures: dict[str, float], run: object) -> None:
    started = time.perf_counter()
    run()  # type: ignore[operator]
    figures[label] = time.perf_counter() - started
    print(f"  {label:<32} {figures[label]:7.1f} s   load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="customers.csv, sites.csv")
    parser.add_argument("--postgres", default=DEFAULT, help="libpq conninfo of a database")
    args = parser.parse_args()
    write_links(args.workdir)
    with psycopg.connect(args.postgres, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        admin.execute(f"CREATE DATABASE {DATABASE}")
        try:
            with psycopg.connect(f"{args.postgres} dbname={DATABASE}", autocommit=True) as conn:
                for ddl in TABLES:
                    conn.execute(ddl)
                conn.execute("SET maintenance_work_mem = '512MB'")
                figures: dict[str, float] = {}

                def copy(sql: str, name: str) -> None:
                    with conn.cursor().copy(sql) as out, open(args.workdir / name, "rb") as f:
                        while chunk := f.read(1 << 20):
                            out.write(chunk)

                print(f"{time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} cores")
                for label, sql, name in COPIES:
                    timed(label, figures, lambda sql=sql, name=name: copy(sql, name))
                for label, sql in KEYS:
                    timed(label, figures, lambda sql=sql: conn.execute(sql))
                print(f"  {'floor':<32} {sum(figures.values()):7.1f} s")
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")


if __name__ == "__main__":
    main()
