"""The big-load path: on PostgreSQL a load large next to the table drops the
sites' secondary indexes and foreign keys and builds them again after. The
result must be the same as row-by-row, the schema must come back whole, and
a refused load must leave both untouched."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from amends.catalog import staging
from amends.catalog.models import Customer, Site, SiteComponent
from amends.db import make_engine, session_factory, unit_of_work
from amends.db.bulk import indexes_rebuilt, locked_at_once, locked_by
from tests import factories
from tests.factories import (
    CUSTOMER_HEADER,
    csv_text,
    hosting_catalog,
    stored_customers,
    stored_sites,
    write_text,
)
from tests.factories import run_import as run

SITE_HEADER = ("external_id", "customer", "domain", "plan", "monthly_price_minor", "currency",
               "state", "components", "started_at", "ended_at")  # fmt: skip


def _schema(engine: Engine) -> dict[str, Any]:
    found = inspect(engine)
    return {
        table: (
            sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(table)),
            sorted(
                (
                    f["name"],
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    f["options"].get("ondelete"),
                )
                for f in found.get_foreign_keys(table)
            ),
            sorted(
                (u["name"], tuple(u["column_names"])) for u in found.get_unique_constraints(table)
            ),
            found.get_pk_constraint(table),
        )
        for table in ("sites", "site_components")
    }


def _files(tmp_path: Path, count: int) -> tuple[Path, Path]:
    customers = csv_text(
        CUSTOMER_HEADER,
        [(f"C{i}", f"Name {i}", f"c{i}@example.com", "", "es", "UTC", "standard", "email", "")
         for i in range(count)],
    )  # fmt: skip
    sites = csv_text(
        SITE_HEADER,
        [(f"S{i}", f"C{i % count}", f"s{i}.example.com", "deluxe", "799", "USD", "active",
          "dns;web-hosting" if i % 2 else "email", "2010-01-01T00:00:00+00:00", "")
         for i in range(2 * count)],
    )  # fmt: skip
    return write_text(tmp_path / "c.csv", customers), write_text(tmp_path / "s.csv", sites)


@pytest.fixture
def catalog(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with unit_of_work(sessions) as session:
        hosting_catalog(session)
    return sessions


def test_a_big_load_gives_what_a_small_one_gives(
    catalog: sessionmaker[Session], engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    customers, sites = _files(tmp_path, 40)
    before = _schema(engine)
    run(catalog, "customers", customers)
    monkeypatch.setattr(staging, "BULK_ROWS", 10)
    result = run(catalog, "sites", sites)
    assert (result.inserted, result.updated) == (80, 0)
    assert _schema(engine) == before
    bulk = stored_sites(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM site_components"))
        conn.execute(text("DELETE FROM sites"))
    monkeypatch.setattr(staging, "BULK_ROWS", 10**9)
    run(catalog, "sites", sites)
    assert _without_ids(stored_sites(engine)) == _without_ids(bulk)


def test_a_big_first_load_of_customers_gives_what_a_small_one_gives(
    catalog: sessionmaker[Session], engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    customers, _ = _files(tmp_path, 40)
    unique = inspect(engine).get_unique_constraints("customers")
    monkeypatch.setattr(staging, "BULK_ROWS", 10)
    result = run(catalog, "customers", customers)
    assert (result.inserted, result.updated, result.unchanged) == (40, 0, 0)
    assert inspect(engine).get_unique_constraints("customers") == unique
    bulk = stored_customers(engine)
    again = run(catalog, "customers", customers)  # existing rows: the upsert path
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 40)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM customers"))
    monkeypatch.setattr(staging, "BULK_ROWS", 10**9)
    run(catalog, "customers", customers)
    assert stored_customers(engine) == bulk


def _without_ids(sites: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        k: {f: v for f, v in row.items() if f not in ("id", "updated_at")}
        for k, row in sites.items()
    }


@pytest.mark.parametrize("merge_above", [None, 0], ids=["hash", "merge"])
def test_foreign_keys_rebuilt_are_checked_and_a_failure_keeps_the_schema(
    postgres_database: str, merge_above: int | None
) -> None:
    """Also when the keys are checked by merge joins (``merge_above``)."""
    engine = make_engine(postgres_database)
    try:
        with unit_of_work(session_factory(engine)) as session:
            hosting_catalog(session)
        before = _schema(engine)
        tables = [Site.__table__, SiteComponent.__table__]
        refused = pytest.raises(IntegrityError, match="fk_site_components_site_id_sites")
        rebuilt = partial(indexes_rebuilt, merge_above=merge_above)
        with refused, engine.begin() as conn, rebuilt(conn, tables):
            assert _secondary(conn) == set()  # gone while loading
            conn.execute(
                text("INSERT INTO site_components SELECT 12345, id FROM components")
            )  # no such site: refused when the key comes back
        assert _schema(engine) == before
    finally:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE components RESTART IDENTITY CASCADE"))
        engine.dispose()


def _secondary(conn: Connection) -> set[str]:
    return set(conn.execute(text(
        "SELECT indexname FROM pg_indexes WHERE tablename IN ('sites', 'site_components') "
        "AND indexname LIKE 'ix_%'"
    )).scalars())  # fmt: skip


def test_a_primary_key_rebuilt_is_checked_and_a_failure_keeps_the_schema(
    postgres_database: str,
) -> None:
    engine = make_engine(postgres_database)
    try:
        with unit_of_work(session_factory(engine)) as session:
            hosting_catalog(session)
            factories.site(session, factories.customer(session), [])
        before = _schema(engine)
        tables = [Site.__table__, SiteComponent.__table__]
        refused = pytest.raises(IntegrityError, match="pk_site_components")
        keys = "SELECT conname FROM pg_constraint WHERE contype = 'p' AND conrelid = '{}'::regclass"
        with refused, engine.begin() as conn, indexes_rebuilt(conn, tables, tables[1:]):
            assert conn.execute(text(keys.format("site_components"))).all() == []  # gone
            assert conn.execute(text(keys.format("sites"))).all() == [("pk_sites",)]  # kept
            link = "INSERT INTO site_components SELECT s.id, c.id FROM sites s, components c"
            conn.execute(text(link))
            conn.execute(text(link))  # every link twice: refused when the key comes back
        assert _schema(engine) == before
    finally:
        factories.empty_postgres(engine)
        engine.dispose()


def test_a_big_load_keeps_each_sites_links_and_the_ids_to_come(
    catalog: sessionmaker[Session], engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the links' key rebuilt after the load, each site has its own
    links, and a site added later gets a fresh id."""
    customers, sites = _files(tmp_path, 40)
    run(catalog, "customers", customers)
    monkeypatch.setattr(staging, "BULK_ROWS", 10)
    run(catalog, "sites", sites)
    stored = stored_sites(engine)
    assert {k: v["components"] for k, v in stored.items()} == {
        f"S{i}": ["dns", "web-hosting"] if i % 2 else ["email"] for i in range(80)
    }
    with unit_of_work(catalog) as session:
        before = session.scalar(select(func.max(Site.id)))
        later = factories.site(session, session.scalars(select(Customer)).first(), ["dns"])
        assert later.id > before


def _locks(conn: Connection) -> set[str]:
    """The tables this connection holds ACCESS EXCLUSIVE."""
    return set(conn.execute(text(
        "SELECT relation::regclass::text FROM pg_locks WHERE pid = pg_backend_pid() "
        "AND mode = 'AccessExclusiveLock' AND relation IS NOT NULL"
    )).scalars())  # fmt: skip


def test_a_big_load_takes_its_locks_at_once_or_holds_none(postgres_database: str) -> None:
    """A reader of ``sites`` that will read ``customers`` next (as the impact
    summary does): while it reads, the load's tries fail and leave it holding
    nothing, so the reader goes on (with a lock timeout, a wait would fail the
    test instead of hanging it); once it is gone, the load has every table at
    once — a sites load locks ``customers`` too, for its foreign key."""
    engine = make_engine(postgres_database)
    try:
        names = locked_by([Site.__table__, SiteComponent.__table__])
        assert names == ["components", "customers", "site_components", "sites"]
        with engine.connect() as reader, engine.connect() as load:
            reader.execute(text("SET lock_timeout = '2s'"))
            reader.execute(text("SELECT count(*) FROM sites"))
            load.begin()
            assert not locked_at_once(load, names, tries=3, pause=0.01)
            assert _locks(load) == set()
            reader.execute(text("SELECT count(*) FROM customers"))  # not blocked
            reader.rollback()
            assert locked_at_once(load, names, tries=3, pause=0.01)
            assert _locks(load) >= set(names)
            load.rollback()
    finally:
        engine.dispose()
