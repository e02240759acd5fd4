"""Bulk import of customers and sites from CSV or JSONL files (gzip'd or not).

Every row is judged by :class:`CustomerRecord` / :class:`SiteRecord`, the same
rules the API applies, and upserted by external id. The import is atomic by
default: any bad row and nothing is written, with an error naming file, line
and field. With ``skip_invalid`` the good rows are written and the bad ones go
to a rejects report.

How it stays fast at millions of rows: rows are judged in worker processes
(:mod:`checks`, with :mod:`fastcheck` for plainly valid rows), the valid rows
go into TEMP staging tables (``COPY`` on PostgreSQL, ``executemany`` on
SQLite), and a handful of set-based statements (:mod:`staging`) check what
needs the database (duplicates, unknown customers) and merge the staging
tables into the real ones. A CSV sites file on PostgreSQL skips most of
the Python work: the server parses and checks its plainly valid lines itself
(:mod:`serverread`). Figures: docs/benchmarks.md. The real tables are touched only
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

import csv
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from amends.catalog import serverread
from amends.catalog.checks import Checked, Job, Kind, check_block
from amends.catalog.records import CustomerRecord, SiteRecord
from amends.catalog.sources import Block, Format, Source, write_rejects
from amends.catalog.staging import Progress, Stage
from amends.db import utcnow
from amends.errors import ImportProblem, ImportRejected

LIST_FIELDS = frozenset({"channels", "opt_out", "components"})
BLOCK_ROWS = 5_000
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
    stage = Stage(conn, kind)
    job = Job(kind, source.name, source.layout, stage.postgres, stage.component_ids())
    rejects: dict[int, list[ImportProblem]] = {}

    def reject(problems: Iterable[ImportProblem]) -> None:
        for problem in problems:
            rejects.setdefault(problem.line or 0, []).append(problem)
        if not skip_invalid and len(rejects) >= max_problems:
            raise _refusal(rejects, stage, max_problems)

    stage.create()

    def check(blocks: Iterable[Block]) -> int:
        read = 0
        # closing(): a refusal half-way shuts the worker pool down now, not
        # when the generator happens to be collected.
        with closing(_checked_blocks(job, blocks, _worker_count(workers, source.size))) as done:
            for checked in done:
                read += checked.read
                reject(checked.problems)
                if skip_invalid or not rejects:  # once refused, staging is wasted work
                    stage.load(checked)
                if progress is not None:
                    progress("read", source.position(), source.size)
        return read

    read = _read_by_server(stage, source, job, check, progress) if _server_reads(job) else None
    if read is None:
        rejects.clear()
        # closing(): a refusal half-way closes the file now, not whenever the
        # garbage collector reaches the generator (the refusal's traceback
        # keeps it alive).
        with closing(source.blocks(BLOCK_ROWS)) as blocks:
            read = check(blocks)
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
    rejects: dict[int, list[ImportProblem]], stage: Stage, max_problems: int
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


def _server_reads(job: Job) -> bool:
    """PostgreSQL can judge a CSV sites file itself (:mod:`serverread`); a
    file giving decimal prices has no plainly valid row for it."""
    header = job.layout.header or ()
    return (
        job.kind == "sites"
        and job.postgres
        and job.layout.format == "csv"
        and "monthly_price_minor" in header
        and "monthly_price" not in header
    )


def _read_by_server(
    stage: Stage,
    source: Source,
    job: Job,
    check: Callable[[Iterable[Block]], int],
    progress: Progress | None,
) -> int | None:
    """Stage the plainly valid lines in SQL, ``check`` the others in Python;
    the number of records read, or None (nothing staged, nothing reported)
    when the file needs the ordinary path."""
    conn, table = stage.conn, stage.table.name
    conn.exec_driver_sql("SAVEPOINT import_by_server")
    try:
        copied = serverread.copy_lines(conn, source, progress)
        staged = serverread.stage_plain_sites(conn, copied, job.layout.header or (), table)
        staged -= len(serverread.link_components(conn, table, stage.links.name, job.components))
        others = serverread.other_blocks(conn, copied, table, staged, BLOCK_ROWS)
        with closing(others):  # its server-side cursor closed before any rollback
            read = staged + check(others)
    except (serverread.Unfit, csv.Error):
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT import_by_server")
        return None
    serverread.drop(conn)
    conn.exec_driver_sql("RELEASE SAVEPOINT import_by_server")
    return read


def _checked_blocks(job: Job, blocks: Iterable[Block], workers: int) -> Iterator[Checked]:
    """Checked blocks in file order, from ``workers`` processes (or inline).

    A bounded number of blocks is in flight, so memory stays flat however
    large the file; the pool is shut down (pending work cancelled) even when
    the consumer stops early.
    """
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
        context.set_forkserver_preload(["amends.catalog.checks"])
        return context
    return multiprocessing.get_context("spawn")
