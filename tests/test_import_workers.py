"""The worker-process path of the importer: validation in other processes
must give exactly what inline validation gives, refuse exactly as atomically,
and leave no process behind. Blocks are made small so a few hundred rows make
many of them."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from amends.catalog import importer
from amends.db import unit_of_work
from amends.errors import ImportProblem, ImportRejected
from tests.factories import (
    CUSTOMER_HEADER,
    counts,
    csv_text,
    hosting_catalog,
    read_csv,
    snapshot,
    stored_customers,
    stored_sites,
    write_text,
)
from tests.factories import run_import as run


@pytest.fixture
def catalog(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with unit_of_work(sessions) as session:
        hosting_catalog(session)
    return sessions


def _many(count: int, bad: frozenset[int] = frozenset()) -> str:
    """``count`` customers, one a line from line 2; those in ``bad`` have no valid e-mail."""
    rows = (
        f'C{i:04d},"Name {i}, ""{i}""",{"bad" if i in bad else f"n{i}@example.com"},'
        f"+3461234{i:04d},es,Europe/Madrid,standard,email;sms,\n"
        for i in range(count)
    )
    return csv_text(CUSTOMER_HEADER, []) + "".join(rows)


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "BLOCK_ROWS", 25)


@pytest.mark.usefixtures("small_blocks")
def test_workers_import_exactly_what_inline_validation_does(
    catalog: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    path = write_text(tmp_path / "c.csv.gz", _many(300, bad=frozenset({7, 130, 299})), gz=True)
    parallel = run(catalog, "customers", path, workers=2, skip_invalid=True,
                   rejects_path=tmp_path / "parallel.csv")  # fmt: skip
    assert counts(parallel) == (300, 297, 0, 0, 3)
    stored = stored_customers(engine)
    assert len(stored) == 297 and "C0130" not in stored
    assert stored["C0298"]["name"] == 'Name 298, "298"'
    inline = run(catalog, "customers", path, workers=1, skip_invalid=True,
                 rejects_path=tmp_path / "inline.csv")  # fmt: skip
    assert counts(inline) == (300, 0, 0, 297, 3)
    rejects = read_csv(tmp_path / "parallel.csv")
    assert rejects == read_csv(tmp_path / "inline.csv")
    assert [r[0] for r in rejects[1:]] == ["9", "132", "301"]


@pytest.mark.usefixtures("small_blocks")
def test_a_bad_row_in_a_late_block_stops_the_parallel_import(
    catalog: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    run(catalog, "customers", write_text(tmp_path / "base.csv", _many(30)))
    before = snapshot(engine)
    path = write_text(tmp_path / "c.csv", _many(400, bad=frozenset({390})))
    with pytest.raises(ImportRejected) as refused:
        run(catalog, "customers", path, workers=2)
    assert refused.value.problems == [
        ImportProblem(str(path), 392, "email",
                      "not a valid e-mail address: An email address must have an @-sign.")
    ]  # fmt: skip
    assert snapshot(engine) == before
    assert multiprocessing.active_children() == []  # the pool is gone, not leaked


@pytest.mark.usefixtures("small_blocks")
def test_large_files_are_validated_by_worker_processes(
    catalog: sessionmaker[Session], engine: Engine, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    path = write_text(tmp_path / "c.csv", _many(120))
    monkeypatch.setattr(importer, "PARALLEL_BYTES", path.stat().st_size)
    seen: list[tuple[str, int, int, int]] = []

    def progress(phase: str, done: int, total: int) -> None:
        seen.append((phase, done, total, len(multiprocessing.active_children())))

    assert counts(run(catalog, "customers", path, progress=progress)) == (120, 120, 0, 0, 0)
    reads = [s for s in seen if s[0] == "read"]
    assert len(reads) == 5 and all(workers > 0 for *_, workers in reads)
    assert reads[-1][1:3] == (path.stat().st_size, path.stat().st_size)
    assert [s[1:3] for s in seen if s[0] == "merge"] == [(1, 2), (2, 2)]
    assert len(stored_customers(engine)) == 120
    assert multiprocessing.active_children() == []


@pytest.mark.usefixtures("small_blocks")
def test_sites_checked_by_workers_are_stored_exactly_as_inline(
    catalog: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    """Times, prices and component links prepared in another process (COPY
    text on PostgreSQL) match what inline validation stores: re-importing the
    same file inline finds every site unchanged."""
    run(catalog, "customers", write_text(tmp_path / "c.csv", _many(30)))
    header = ("external_id", "customer", "domain", "plan", "monthly_price", "currency",
              "state", "components", "started_at", "ended_at")  # fmt: skip
    keys = ["dns", "web-hosting", "email", "domains"]
    rows = [
        (f"S{i:03d}", f"C{i % 30:04d}", f"s{i}.example", "basic", f"{i}.5{i % 10}", "EUR",
         "cancelled" if i % 7 == 0 else "active", ";".join(keys[: i % 5]),
         f"2011-0{1 + i % 9}-01T08:30:00-0{i % 8}:00",
         "2012-09-10T17:25:00.123456+00:00" if i % 7 == 0 else "")
        for i in range(150)
    ]  # fmt: skip
    path = write_text(tmp_path / "s.csv.gz", csv_text(header, rows), gz=True)
    assert counts(run(catalog, "sites", path, workers=2)) == (150, 150, 0, 0, 0)
    parallel = stored_sites(engine)
    assert counts(run(catalog, "sites", path, workers=1)) == (150, 0, 0, 150, 0)
    assert stored_sites(engine) == parallel
    assert parallel["S149"]["components"] == ["dns", "domains", "email", "web-hosting"]
    assert parallel["S149"]["monthly_price_minor"] == 14959
