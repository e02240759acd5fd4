"""Engine, sessions, shared column types and the dialect differences in SQL.

Everything that differs between SQLite (the embedded default) and PostgreSQL
(scale) lives here, so domain code writes one kind of SQL. The paths that
bypass the ORM to move millions of rows (``COPY``, driver ``executemany``,
index rebuilds) are in :mod:`amends.db.bulk`: few callers need them, and
what every caller needs stays short to read.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    DateTime,
    Dialect,
    Engine,
    MetaData,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from amends.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every amends table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite has no time zones, so values are stored as naive UTC there and made
    aware again on the way out; PostgreSQL stores ``timestamptz``. A naive
    value handed in is refused: guessing its zone is how outages get the
    wrong window.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give a time zone or offset")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite text from a raw query
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create the engine with the settings each backend needs to be safe.

    SQLite gets foreign keys, WAL and ``BEGIN IMMEDIATE`` so a writer never
    fails half-way on a lock upgrade; PostgreSQL gets a pre-ping pool.
    """
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        deferred = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


#: Execution option marking an engine's transactions as reads (see :func:`read_only`).
READ_ONLY = "amends_read_only"


def read_only(engine: Engine) -> Engine:
    """The same engine (and pool) for transactions that only read.

    On SQLite they begin deferred: under WAL a reader then never blocks a
    writer, which matters for reads that last as long as a client takes to
    download them (a streamed export). Writers keep ``BEGIN IMMEDIATE`` so a
    lock upgrade never fails half-way. Other backends ignore the option.
    """
    return engine.execution_options(**{READ_ONLY: True})


def is_postgres(bind: Engine | Connection | Session) -> bool:
    return (
        bind.get_bind().dialect.name == "postgresql"
        if isinstance(bind, Session)
        else bind.dialect.name == "postgresql"
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One commit per unit of work: everything saved together or nothing."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def init_engine(settings: Settings) -> Engine:
    """The engine for these settings, migrated to the latest schema if allowed."""
    engine = make_engine(settings.database_url)
    if settings.auto_migrate:
        from amends.migrations import upgrade_if_behind

        upgrade_if_behind(engine)
    return engine


def null_safe_differs(conn: Connection) -> str:
    """The operator for "differs, with NULL equal to NULL" in this dialect.

    SQLite spells it ``IS NOT`` (``IS DISTINCT FROM`` only since 3.39);
    PostgreSQL ``IS DISTINCT FROM``.
    """
    return "IS DISTINCT FROM" if conn.dialect.name == "postgresql" else "IS NOT"


def insert_ignoring(
    bind: Session | Connection, table: Any, conflict: Sequence[str] | None = None
) -> Any:
    """``INSERT … ON CONFLICT [(conflict)] DO NOTHING`` in the bind's dialect:
    re-running a set-based insert adds only the rows that are missing.

    Both backends spell it the same, but SQLAlchemy builds it from each
    dialect's own ``insert``; callers add ``.from_select`` or values. Without
    ``conflict``, any unique constraint counts.
    """
    index = list(conflict) if conflict is not None else None
    if is_postgres(bind):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=index)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=index)


class in_table_order(FunctionElement[Any]):
    """A column the SQLite planner must not look up through its index.

    SQLite's ``+column`` idiom: a filter on it is checked while scanning the
    table in primary-key order instead of searched through an index. The
    impact summary groups site-component links by site; scanning the links in
    their (site_id, component_id) key order lets SQLite group as it streams,
    where searching by component needs a sort of every caught link first
    (1 M customers: 2.4 s instead of 3.8 s). PostgreSQL plans a hash join
    either way, so there it is the plain column.
    """

    inherit_cache = True
    name = "in_table_order"

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(in_table_order)
def _plain_column(element: in_table_order, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(in_table_order, "sqlite")
def _unindexed_column(element: in_table_order, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.clauses, **kw)


def take_turn(session: Session, name: str) -> None:
    """Serialise one kind of write across processes until the transaction ends.

    Why: "find the draft of this alert, else open one" must not run twice at
    once, or two webhooks for one alert group (Alertmanager in HA sends each
    notification from every replica) would open two drafts. PostgreSQL: a
    transaction-level advisory lock named by ``name``; SQLite needs nothing,
    since a write transaction there already holds the one writer lock
    (``BEGIN IMMEDIATE``).
    """
    if is_postgres(session):
        key = zlib.crc32(name.encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
