"""Import and impact at provider scale, on SQLite and PostgreSQL.

Generates the reference scenario (DESIGN.md §6: N customers, ~2 N sites),
imports it with the real importer, replays the 10 September 2012 DNS outage
and computes who was hit — timing each step — then prints the figures and
their ratio to yardsticks measured in the same run, because a 2-core machine
is noisy and a ratio survives the noise better than seconds do:

* import yardstick: reading the same files with Python's C ``csv`` module
  (the floor for any importer that looks at every row in Python);
* PostgreSQL floor: ``COPY`` of the same sites file, untouched, into an
  unlogged table of text columns (what the server spends just receiving it);
* impact yardstick: one ``count(*)`` over the ``site_components`` join with
  ``sites`` (a full pass over the links the impact query must consider).

Usage::

    python benchmarks/import_impact.py                       # 1 M customers
    python benchmarks/import_impact.py --customers 5000000 --backend postgresql

PostgreSQL: ``--postgres-url`` names the server; a database ``amends_bench``
is (re)created there and dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from amends import demo, scenario
from amends.catalog import importer
from amends.catalog import service as catalog_service
from amends.db import make_engine, session_factory, unit_of_work
from amends.impact import summary as impact_summary
from amends.incidents import service as incident_service
from amends.migrations import upgrade

FLOOR = "copy floor (sites file)"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _started(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
    conn.info.setdefault("started", []).append(time.perf_counter())


def _finished(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
    took = time.perf_counter() - conn.info["started"].pop()
    if took > 0.5:
        print(f"    {took:7.2f} s  {' '.join(statement.split())[:110]}", flush=True)


def timed(label: str, figures: dict[str, float], action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = action()
    figures[label] = time.perf_counter() - started
    print(f"  {label:<28} {figures[label]:8.2f} s", flush=True)
    return result


def csv_yardstick(files: scenario.ScenarioFiles) -> float:
    started = time.perf_counter()
    for path in (files.customers, files.sites):
        with open(path, newline="", encoding="utf-8") as handle:
            for _ in csv.reader(handle):
                pass
    return time.perf_counter() - started


def postgres_copy_floor(url: str, sites: Path) -> float:
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        columns = ", ".join(f"c{i} text" for i in range(10))
        cursor.execute(f"CREATE UNLOGGED TABLE copy_floor ({columns})")
        started = time.perf_counter()
        with (
            open(sites, "rb") as handle,
            cursor.copy("COPY copy_floor FROM STDIN (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE copy_floor")
        raw.commit()
        return seconds
    finally:
        raw.close()
        engine.dispose()


@contextmanager
def _python_sites() -> Iterator[None]:
    """Sites judged in Python on PostgreSQL too, as before catalog.serverread."""
    server_reads = importer._server_reads
    importer._server_reads = lambda job: False  # type: ignore[assignment]
    try:
        yield
    finally:
        importer._server_reads = server_reads  # type: ignore[assignment]


def run_backend(
    url: str,
    files: scenario.ScenarioFiles,
    figures: dict[str, float],
    reimport: bool,
    compare: bool = False,
    impact: bool = True,
) -> int:
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        for key, name, group, depends_on, description in scenario.COMPONENTS:
            catalog_service.save_component(
                session=session, key=key, name=name, group=group,
                description=description, depends_on=list(depends_on),
            )  # fmt: skip

    def load(label: str, kind: str, path: Path) -> None:
        run = importer.import_customers if kind == "customers" else importer.import_sites
        with unit_of_work(sessions) as session:
            timed(label, figures, lambda: run(session=session, path=path))

    load("import customers", "customers", files.customers)
    if compare:  # the Python path on the same database, then rolled back
        with unit_of_work(sessions) as session, _python_sites():
            timed(
                "sites, Python path (undone)",
                figures,
                lambda: importer.import_sites(session=session, path=files.sites),
            )
            session.rollback()
    load("import sites", "sites", files.sites)
    figures["import total"] = figures["import customers"] + figures["import sites"]
    if reimport:
        load("re-import customers (no-op)", "customers", files.customers)
    if not impact:
        engine.dispose()
        return 0
    with unit_of_work(sessions) as session:
        incident_id = demo._replay(session)
    with unit_of_work(sessions) as session:
        incident = incident_service.get_incident(session=session, incident_id=incident_id)
        summary = timed(
            "impact", figures, lambda: impact_summary.summarize(session=session, incident=incident)
        )
        timed("impact yardstick (scan)", figures, lambda: session.scalar(text(
            "SELECT count(*) FROM site_components sc JOIN sites s ON s.id = sc.site_id"
        )))  # fmt: skip
    engine.dispose()
    return summary.sites


def reused(workdir: Path) -> scenario.ScenarioFiles | None:
    """The files a previous run left in ``workdir`` (same seed assumed), counted."""
    customers, sites = workdir / "customers.csv", workdir / "sites.csv"
    if not (customers.is_file() and sites.is_file()):
        return None

    def rows(path: Path) -> int:
        with open(path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1

    return scenario.ScenarioFiles(customers, sites, rows(customers), rows(sites))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version}"
    )


def fresh_postgres(admin_url: str, name: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        version = conn.scalar(text("SHOW server_version"))
    admin.dispose()
    print(f"PostgreSQL {version}")
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("AMENDS_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep generated files here")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--database", default="amends_bench", help="name of the PostgreSQL database to (re)create"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="import the files already in --workdir, if any"
    )
    parser.add_argument(
        "--compare-sites",
        action="store_true",
        help="PostgreSQL: first time the sites import judged in Python (then undone)",
    )
    parser.add_argument(
        "--statements", action="store_true", help="print each statement that takes over 0.5 s"
    )
    parser.add_argument(
        "--no-reimport", action="store_true", help="skip timing the no-op re-import of customers"
    )
    parser.add_argument(
        "--no-impact", action="store_true", help="time the import only (no outage, no impact)"
    )
    args = parser.parse_args()
    if args.statements:
        event.listen(Engine, "before_cursor_execute", _started)
        event.listen(Engine, "after_cursor_execute", _finished)

    print(f"{dt.date.today()} · {machine()} · load average {os.getloadavg()[0]:.1f}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="amends-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, float] = {}
    files = reused(workdir) if args.reuse else None
    if files is None:
        files = timed(
            "generate files",
            figures,
            lambda: scenario.write_files(workdir, args.customers, args.seed),
        )
    print(f"  {files.customer_count:,} customers, {files.site_count:,} sites in {workdir}")
    figures["csv yardstick"] = csv_yardstick(files)
    print(f"  {'csv yardstick (read all rows)':<28} {figures['csv yardstick']:8.2f} s")

    results: dict[str, dict[str, float]] = {}
    if args.backend in ("sqlite", "both"):
        print("SQLite")
        path = workdir / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        results["sqlite"] = {}
        hit = run_backend(
            f"sqlite:///{path}",
            files,
            results["sqlite"],
            not args.no_reimport,
            impact=not args.no_impact,
        )
        print(f"  affected sites: {hit:,}")
        if not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    if args.backend in ("postgresql", "both"):
        print("PostgreSQL")
        url = fresh_postgres(args.postgres_url, args.database)
        floor = postgres_copy_floor(url, files.sites)
        results["postgresql"] = {FLOOR: floor}
        print(f"  {FLOOR:<28} {floor:8.2f} s")
        hit = run_backend(
            url,
            files,
            results["postgresql"],
            not args.no_reimport,
            args.compare_sites,
            not args.no_impact,
        )
        print(f"  affected sites: {hit:,}")
        if not args.keep:
            drop_postgres(args.postgres_url, args.database)

    print(f"\nSummary (load average now {os.getloadavg()[0]:.1f})")
    rows = files.customer_count + files.site_count
    for backend, got in results.items():
        total = got["import total"]
        print(
            f"  {backend}: import {total:.1f} s ({rows / total:,.0f} rows/s, "
            f"{total / figures['csv yardstick']:.1f}× csv yardstick"
            + (
                f", {got['import sites'] / got[FLOOR]:.1f}× COPY floor for sites"
                if FLOOR in got
                else ""
            )
            + ")"
            + (
                f"; impact {got['impact']:.1f} s "
                f"({got['impact'] / got['impact yardstick (scan)']:.1f}× scan yardstick)"
                if "impact" in got
                else ""
            )
        )


if __name__ == "__main__":
    main()
