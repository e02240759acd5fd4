"""Bulk import of customers and sites from CSV or JSONL files (gzip'd or not).

Every row is judged by :class:`CustomerRecord` / :class:`SiteRecord`, the same
rules the API applies, and upserted by external id. The import is atomic by
default: any bad row and nothing is written, with an error naming file, line
and field. With ``skip_invalid`` the good rows are written and the bad ones go
to a rejects report.

How it stays fast at millions of rows: rows are validated in worker processes
(validation, not the database, is the expensive part: e-mail and phone checks
cost ~100 µs a customer), the valid rows go into TEMP staging tables (``COPY``
on PostgreSQL, ``executemany`` on SQLite), and a handful of set-based
statements check what needs the database (duplicates, unknown customers) and
merge the staging tables into the real ones. The real tables are touched only
by that final merge, after every check has passed, so a refused import has
written nothing, whatever the caller then does with its transaction.

Rules worth knowing:

* Opt-outs are never cleared by an import: the new opt-out is old OR new.
* A site's components are replaced by the row's; components must exist.
* A site's customer must already be in the database (import customers first);
  a customer earlier in the same sites file does not count, there are none.
* An external id repeated in one file is an error from its second valid row.
* A row that changes nothing is left alone (``updated_at`` too), so importing
  the same file twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, MetaData, Table, Text, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from amends.catalog.models import CHANNELS, Customer, Site, SiteComponent
from amends.catalog.records import CustomerRecord, SiteRecord
from amends.catalog.sources import (
    CUSTOMER_STAGE,
    SITE_STAGE,
    Checked,
    Format,
    Job,
    Kind,
    Source,
    check_block,
    write_rejects,
)
from amends.db import (
    analyze,
    bulk_load,
    estimated_rows,
    indexes_rebuilt,
    null_safe_differs,
    sqlite_time_text,
    tune_for_bulk,
    utcnow,
)
from amends.errors import ImportProblem, ImportRejected

Progress = Callable[[str, int, int], None]
"""Called with (phase, done, total): phase ``"read"`` counts bytes of the file,
``"merge"`` counts the steps of the final merge."""

LIST_FIELDS = frozenset({"channels", "opt_out", "components"})
BLOCK_ROWS = 5_000
STATISTICS_ROWS = 10_000  # PostgreSQL: a load that changes this many rows refreshes statistics
BULK_ROWS = 100_000  # PostgreSQL: a load this big, and big next to the table, rebuilds indexes
PARALLEL_BYTES = 4 << 20  # below this, validating inline beats starting workers


@dataclass(frozen=True)
class ImportResult:
    """What an import did. ``read`` = ``inserted + updated + unchanged + rejected``."""

    kind: str
    file: str
    read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    rejects_file: str | None
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_customers(
    *,
    session: Session,
    path: Path | str,
    format: Format | None = None,
    skip_invalid: bool = False,
    rejects_path: Path | str | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    max_problems: int = 100,
) -> ImportResult:
    """Upsert the customers in ``path`` (CSV or JSONL, gzip'd or not).

    Atomic unless ``skip_invalid``: raises :class:`ImportRejected` with up to
    ``max_problems`` problems and writes nothing. ``workers``: validating
    processes (default: one per CPU for large files, none for small ones).
    Flushes, never commits: the caller's unit of work does.
    """
    return _import(
        "customers", session, Path(path), format, skip_invalid, rejects_path, progress,
        workers, max_problems,
    )  # fmt: skip


def import_sites(
    *,
    session: Session,
    path: Path | str,
    format: Format | None = None,
    skip_invalid: bool = False,
    rejects_path: Path | str | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    max_problems: int = 100,
) -> ImportResult:
    """Upsert the sites in ``path``; as :func:`import_customers`.

    Each site names its customer by external id (already in the database) and
    its components by key (already defined); its components are replaced.
    """
    return _import(
        "sites", session, Path(path), format, skip_invalid, rejects_path, progress,
        workers, max_problems,
    )  # fmt: skip


def default_rejects_path(path: Path | str) -> Path:
    """``FILE.rejects.csv`` beside the input."""
    path = Path(path)
    return path.with_name(path.name + ".rejects.csv")


def _import(
    kind: Kind,
    session: Session,
    path: Path,
    fmt: Format | None,
    skip_invalid: bool,
    rejects_path: Path | str | None,
    progress: Progress | None,
    workers: int | None,
    max_problems: int,
) -> ImportResult:
    began = time.perf_counter()
    fields = (CustomerRecord if kind == "customers" else SiteRecord).model_fields
    source = Source(
        path,
        fmt,
        fields=fields,
        required=[name for name, info in fields.items() if info.is_required()],
        list_fields=LIST_FIELDS & fields.keys(),
    )
    report = None
    if skip_invalid:
        report = Path(rejects_path) if rejects_path else default_rejects_path(path)
        _check_report_path(report, source)
    session.flush()
    conn = session.connection()
    stage = _Stage(conn, kind)
    job = Job(kind, source.name, source.layout, stage.postgres, stage.component_ids())
    rejects: dict[int, list[ImportProblem]] = {}
    read = 0

    def reject(problems: Iterable[ImportProblem]) -> None:
        for problem in problems:
            rejects.setdefault(problem.line or 0, []).append(problem)
        if not skip_invalid and len(rejects) >= max_problems:
            raise _refusal(rejects, stage, max_problems)

    stage.create()
    # closing(): a refusal half-way shuts the worker pool down now, not when
    # the generator happens to be collected.
    with closing(_checked_blocks(job, source, _worker_count(workers, source.size))) as blocks:
        for checked in blocks:
            read += checked.read
            reject(checked.problems)
            if skip_invalid or not rejects:  # once refused, staging is wasted work
                stage.load(checked)
            if progress is not None:
                progress("read", source.position(), source.size)
    if rejects and not skip_invalid:
        raise _refusal(rejects, stage, max_problems)
    stage.analyze()
    reject(stage.duplicates(source.name))
    if kind == "sites":
        reject(stage.unknown_customers(source.name))
    if rejects and not skip_invalid:
        raise _refusal(rejects, stage, max_problems)
    merge = stage.merge_customers if kind == "customers" else stage.merge_sites
    inserted, updated, unchanged = merge(utcnow(), progress)
    stage.drop()
    stage.refresh_statistics(inserted + updated)
    session.expire_all()  # the ORM's copies of changed rows are stale now
    if report is not None:
        write_rejects(report, source, rejects)
    return ImportResult(
        kind=kind,
        file=source.name,
        read=read,
        inserted=inserted,
        updated=updated,
        unchanged=unchanged,
        rejected=len(rejects),
        rejects_file=str(report) if report else None,
        seconds=round(time.perf_counter() - began, 3),
    )


def _check_report_path(report: Path, source: Source) -> None:
    """Refuse, before any work, a rejects report that could not be written or
    would overwrite the file being imported."""
    problem = None
    if not report.parent.is_dir():
        problem = f"cannot write the rejects report {str(report)!r}: no such directory"
    elif report.exists() and report.samefile(source.path):
        problem = "the rejects report would overwrite the file being imported"
    if problem:
        raise ImportRejected([ImportProblem(source.name, None, None, problem)])


def _refusal(
    rejects: dict[int, list[ImportProblem]], stage: _Stage, max_problems: int
) -> ImportRejected:
    """The problems of the first ``max_problems`` bad lines (a block checked
    at once may have found more)."""
    stage.drop()
    lines = sorted(rejects)[: max(1, max_problems)]
    problems = [p for line in lines for p in rejects[line]]
    return ImportRejected(problems, hint="nothing was imported")


def _worker_count(workers: int | None, size: int) -> int:
    if workers is not None:
        return max(1, workers)
    return 1 if size < PARALLEL_BYTES else os.cpu_count() or 1


def _checked_blocks(job: Job, source: Source, workers: int) -> Iterator[Checked]:
    """Checked blocks in file order, from ``workers`` processes (or inline).

    A bounded number of blocks is in flight, so memory stays flat however
    large the file; the pool is shut down (pending work cancelled) even when
    the consumer stops early.
    """
    blocks = source.blocks(BLOCK_ROWS)
    if workers <= 1:
        for block in blocks:
            yield check_block(job, block)
        return
    pool = ProcessPoolExecutor(workers, mp_context=_mp_context())
    pending: deque[Future[Checked]] = deque()
    try:
        for block in blocks:
            pending.append(pool.submit(check_block, job, block))
            if len(pending) >= workers * 3:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _mp_context() -> multiprocessing.context.BaseContext:
    """Forkserver where there is one: forking this process would copy its
    database connections and threads (unsafe with both), and the forkserver
    imports the validation code once rather than once per worker."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["amends.catalog.sources"])
        return context
    return multiprocessing.get_context("spawn")


# -- staging and merging ----------------------------------------------------

_META = MetaData()


def _temp(name: str, *columns: Column[Any]) -> Table:
    return Table(
        name, _META, *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP"
    )  # fmt: skip


def _line() -> Column[Any]:
    return Column("line", BigInteger().with_variant(Integer, "sqlite"), primary_key=True)


_CUSTOMERS = _temp(
    "import_customers_stage",
    _line(),
    *(Column(n, Text) for n in CUSTOMER_STAGE[1:8]),
    *(Column(n, Boolean) for n in CUSTOMER_STAGE[8:]),
)
_SITES = _temp(
    "import_sites_stage",
    _line(),
    *(Column(n, Text) for n in SITE_STAGE[1:5]),
    Column("monthly_price_minor", BigInteger),
    Column("currency", Text),
    Column("state", Text),
    Column("service_started_at", DateTime(timezone=True)),
    Column("service_ended_at", DateTime(timezone=True)),
)
_LINKS = _temp(
    "import_site_links_stage", Column("line", BigInteger), Column("component_id", Integer)
)
_EXISTING = _temp("import_sites_existing", _line(), Column("site_id", BigInteger))
_RELINKED = _temp("import_sites_relinked", Column("site_id", BigInteger, primary_key=True))

_TARGETS: dict[Kind, tuple[Table, ...]] = {
    "customers": (Customer.__table__,),
    "sites": (Site.__table__, SiteComponent.__table__),
}
_CUSTOMER_DATA = (
    "name", "email", "phone", "locale", "timezone", "tier", *(f"notify_{c}" for c in CHANNELS)
)  # fmt: skip
_OPT_OUTS = tuple(f"opt_out_{c}" for c in CHANNELS)
_SITE_DATA = (
    "customer_id", "domain", "plan", "monthly_price_minor", "currency", "state",
    "service_started_at", "service_ended_at",
)  # fmt: skip


class _Stage:
    """The TEMP tables of one import and the set-based SQL over them."""

    def __init__(self, conn: Connection, kind: Kind) -> None:
        self.conn = conn
        self.kind = kind
        self.postgres = conn.dialect.name == "postgresql"
        self.differs = null_safe_differs(conn)
        self.table = _CUSTOMERS if kind == "customers" else _SITES
        self.tables = (
            [_CUSTOMERS] if kind == "customers" else [_SITES, _LINKS, _EXISTING, _RELINKED]
        )

    def component_ids(self) -> dict[str, int]:
        if self.kind != "sites":
            return {}
        return {key: id_ for key, id_ in self.conn.execute(text("SELECT key, id FROM components"))}

    def _run(self, sql: str, **params: Any) -> int:
        return self.conn.execute(text(sql), params).rowcount

    def _count(self, sql: str, **params: Any) -> int:
        return int(self.conn.execute(text(sql), params).scalar_one())

    def create(self) -> None:
        tune_for_bulk(self.conn)
        self.drop()
        for table in self.tables:
            table.create(self.conn)

    def drop(self) -> None:
        for table in self.tables:
            self.conn.execute(text(f"DROP TABLE IF EXISTS {table.name}"))

    def load(self, checked: Checked) -> None:
        columns = CUSTOMER_STAGE if self.kind == "customers" else SITE_STAGE
        bulk_load(self.conn, self.table.name, columns, checked.rows)
        if self.kind == "sites":
            bulk_load(self.conn, _LINKS.name, ("line", "component_id"), checked.links)

    def analyze(self) -> None:
        """Temp tables get no autovacuum statistics; the planner needs them."""
        if self.postgres:
            for table in self.tables:
                self.conn.execute(text(f"ANALYZE {table.name}"))

    def refresh_statistics(self, changed: int) -> None:
        """After a big load the planner's picture of the tables is stale until
        autovacuum comes round; the first impact query must not pay for that."""
        if changed >= STATISTICS_ROWS:
            for table in _TARGETS[self.kind]:
                analyze(self.conn, table)

    def _now(self, now: dt.datetime) -> Any:
        return now if self.postgres else sqlite_time_text(now)

    def duplicates(self, file: str) -> list[ImportProblem]:
        """External ids repeated in the file: every occurrence after the first."""
        t = self.table.name
        found = self.conn.execute(text(f"""
            SELECT s.line, s.external_id, d.first FROM {t} s
            JOIN (SELECT external_id, min(line) AS first FROM {t}
                  GROUP BY external_id HAVING count(*) > 1) d
              ON d.external_id = s.external_id AND s.line > d.first
            ORDER BY s.line""")).all()  # fmt: skip
        if found:
            self._run(f"""DELETE FROM {t} WHERE EXISTS (SELECT 1 FROM {t} e
                WHERE e.external_id = {t}.external_id AND e.line < {t}.line)""")
        message = "external id {!r} repeats line {} of this file"
        return [ImportProblem(file, ln, "external_id", message.format(x, f)) for ln, x, f in found]

    def unknown_customers(self, file: str) -> list[ImportProblem]:
        missing = f"""NOT EXISTS (SELECT 1 FROM customers c
                      WHERE c.external_id = {_SITES.name}.customer)"""
        found = self.conn.execute(
            text(f"SELECT line, customer FROM {_SITES.name} WHERE {missing} ORDER BY line")
        ).all()
        if found:
            self._run(f"DELETE FROM {_SITES.name} WHERE {missing}")
        message = "no customer {!r} (import customers first)"
        return [ImportProblem(file, line, "customer", message.format(c)) for line, c in found]

    def merge_customers(self, now: dt.datetime, progress: Progress | None) -> tuple[int, int, int]:
        """Upsert; opt-outs only ever get added; unchanged rows are not touched."""
        t = _CUSTOMERS.name
        staged = self._count(f"SELECT count(*) FROM {t}")
        existing = self._count(
            f"SELECT count(*) FROM {t} s JOIN customers c ON c.external_id = s.external_id"
        )
        _step(progress, 1, 2)
        columns = ", ".join(_CUSTOMER_DATA + _OPT_OUTS)
        sets = [f"{c} = excluded.{c}" for c in _CUSTOMER_DATA]
        sets += [f"{c} = customers.{c} OR excluded.{c}" for c in _OPT_OUTS]
        changes = [f"customers.{c} {self.differs} excluded.{c}" for c in _CUSTOMER_DATA]
        changes += [f"(excluded.{c} AND NOT customers.{c})" for c in _OPT_OUTS]
        changed = self._run(
            f"""INSERT INTO customers (external_id, {columns}, created_at, updated_at)
            SELECT external_id, {columns}, :now, :now FROM {t} WHERE true
            ON CONFLICT (external_id) DO UPDATE SET {", ".join(sets)},
                updated_at = excluded.updated_at
            WHERE {" OR ".join(changes)}""",
            now=self._now(now),
        )
        _step(progress, 2, 2)
        inserted = staged - existing
        return inserted, changed - inserted, staged - changed

    def merge_sites(self, now: dt.datetime, progress: Progress | None) -> tuple[int, int, int]:
        """Upsert sites, then replace the components of new and changed ones.

        A site whose only change is its components counts as updated and gets
        a new ``updated_at`` too.
        """
        s, x, e, r = _SITES.name, _LINKS.name, _EXISTING.name, _RELINKED.name
        at = self._now(now)
        staged = self._count(f"SELECT count(*) FROM {s}")
        self._run(f"""INSERT INTO {e} (line, site_id) SELECT st.line, t.id
            FROM {s} st JOIN sites t ON t.external_id = st.external_id""")
        existing = self._count(f"SELECT count(*) FROM {e}")
        old = f"SELECT sc.site_id, sc.component_id FROM site_components sc JOIN {e} ON {e}.site_id = sc.site_id"  # noqa: E501
        new = f"SELECT {e}.site_id, {x}.component_id FROM {x} JOIN {e} ON {e}.line = {x}.line"
        self._run(f"""INSERT INTO {r} (site_id)
            SELECT site_id FROM ({old} EXCEPT {new}) gone
            UNION SELECT site_id FROM ({new} EXCEPT {old}) added""")
        _step(progress, 1, 4)
        with self._rebuilding(staged - existing, Site.__table__, SiteComponent.__table__):
            inserted, updated = self._write_sites(at, staged, existing, progress)
        return inserted, updated, staged - inserted - updated

    def _rebuilding(self, new_rows: int, *tables: Table) -> AbstractContextManager[None]:
        """Indexes rebuilt after the load when it adds many rows to the table."""
        big = self.postgres and new_rows >= BULK_ROWS
        if big and new_rows >= estimated_rows(self.conn, tables[0]) // 2:
            return indexes_rebuilt(self.conn, tables)
        return nullcontext()

    def _write_sites(
        self, at: Any, staged: int, existing: int, progress: Progress | None
    ) -> tuple[int, int]:
        s, x, e, r = _SITES.name, _LINKS.name, _EXISTING.name, _RELINKED.name
        columns = ", ".join(_SITE_DATA)
        values = ", ".join(f"st.{c}" for c in _SITE_DATA[1:])
        incoming = f"""SELECT {e}.site_id, c.id AS customer_id, {values} FROM {s} st
            JOIN {e} ON {e}.line = st.line JOIN customers c ON c.external_id = st.customer"""
        sets = ", ".join(f"{c} = n.{c}" for c in _SITE_DATA)
        changes = " OR ".join(f"sites.{c} {self.differs} n.{c}" for c in _SITE_DATA)
        changed = self._run(
            f"""UPDATE sites SET {sets}, updated_at = :now FROM ({incoming}) n
            WHERE sites.id = n.site_id AND ({changes})""",
            now=at,
        )
        inserted = self._run(  # plain INSERT: no unique check per row, see _rebuilding
            f"""INSERT INTO sites (external_id, {columns}, updated_at)
            SELECT st.external_id, c.id, {values}, :now
            FROM {s} st JOIN customers c ON c.external_id = st.customer
            WHERE NOT EXISTS (SELECT 1 FROM {e} WHERE {e}.line = st.line)""",
            now=at,
        )
        relinked_only = self._run(
            f"""UPDATE sites SET updated_at = :now
            WHERE id IN (SELECT site_id FROM {r}) AND updated_at <> :now""",
            now=at,
        )
        _step(progress, 2, 4)
        self._run(f"DELETE FROM site_components WHERE site_id IN (SELECT site_id FROM {r})")
        self._run(f"""INSERT INTO site_components (site_id, component_id)
            SELECT t.id, {x}.component_id FROM {x}
            JOIN {s} st ON st.line = {x}.line
            JOIN sites t ON t.external_id = st.external_id
            WHERE NOT EXISTS (SELECT 1 FROM {e} WHERE {e}.line = {x}.line)
            ORDER BY 1, 2""")  # in key order: appending to the key's index, not scattering
        _step(progress, 3, 4)
        self._run(f"""INSERT INTO site_components (site_id, component_id)
            SELECT {e}.site_id, {x}.component_id FROM {x}
            JOIN {e} ON {e}.line = {x}.line JOIN {r} ON {r}.site_id = {e}.site_id
            ORDER BY 1, 2""")
        _step(progress, 4, 4)
        assert inserted == staged - existing, "every staged site is either new or existing"
        return inserted, changed + relinked_only


def _step(progress: Progress | None, step: int, steps: int) -> None:
    if progress is not None:
        progress("merge", step, steps)
