"""Engine, sessions, shared column types and the dialect-specific fast paths.

Everything that differs between SQLite (the embedded default) and PostgreSQL
(scale) lives here, so domain code writes one kind of SQL.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Constraint,
    DateTime,
    Dialect,
    Engine,
    Index,
    MetaData,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex
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


def bulk_insert(
    conn: Connection, table: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert many rows as fast as the backend allows.

    PostgreSQL: ``COPY ... FROM STDIN`` (binary-safe text format through
    psycopg's copy API). SQLite: one ``executemany`` inside the caller's
    transaction. Returns the number of rows written.
    """
    if conn.dialect.name == "postgresql":
        return _copy_rows(conn, table.name, columns, rows)
    stmt = insert(table)
    batch = [dict(zip(columns, row, strict=True)) for row in rows]
    if batch:
        conn.execute(stmt, batch)
    return len(batch)


def _copy_rows(
    conn: Connection, table_name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    raw = conn.connection.driver_connection
    assert raw is not None
    count = 0
    column_list = ", ".join(f'"{c}"' for c in columns)
    with (
        raw.cursor() as cursor,
        cursor.copy(f'COPY "{table_name}" ({column_list}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def init_engine(settings: Settings) -> Engine:
    """The engine for these settings, migrated to the latest schema if allowed."""
    engine = make_engine(settings.database_url)
    if settings.auto_migrate:
        from amends.migrations import upgrade_if_behind

        upgrade_if_behind(engine)
    return engine


def bulk_load(
    conn: Connection,
    table_name: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]] | bytes,
) -> None:
    """Append already-converted rows to a (staging) table, fastest path per backend.

    Unlike :func:`bulk_insert`, values go to the driver untouched: no
    SQLAlchemy type processing per value, which at millions of rows is most of
    the cost. PostgreSQL: ``COPY``, and ``rows`` may already be COPY text
    (:func:`copy_text`, so worker processes can do the formatting); SQLite: the
    driver's ``executemany`` inside the caller's transaction, with values the
    driver accepts (times as the text :class:`UTCDateTime` stores).
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        if isinstance(rows, bytes):
            _copy_text(conn, table_name, columns, rows)
        else:
            _copy_rows(conn, table_name, columns, rows)
        return
    assert not isinstance(rows, bytes), "COPY text is for PostgreSQL only"
    raw = conn.connection.driver_connection
    assert raw is not None
    column_list = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    raw.executemany(f'INSERT INTO "{table_name}" ({column_list}) VALUES ({marks})', rows)


def _copy_text(conn: Connection, table_name: str, columns: Sequence[str], data: bytes) -> None:
    raw = conn.connection.driver_connection
    assert raw is not None
    column_list = ", ".join(f'"{c}"' for c in columns)
    with (
        raw.cursor() as cursor,
        cursor.copy(f'COPY "{table_name}" ({column_list}) FROM STDIN') as copy,
    ):
        copy.write(data)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(rows: Iterable[Sequence[Any]]) -> bytes:
    """Rows in PostgreSQL's COPY text format: tab-separated, ``\\N`` for NULL.

    Values: None, bool, int, str and aware datetimes. Lets a worker process
    that has no connection prepare what :func:`bulk_load` streams, so the
    process holding the connection only forwards bytes.
    """
    out: list[str] = []
    for row in rows:
        cells = []
        for value in row:
            if value is None:
                cells.append("\\N")
            elif value is True:
                cells.append("t")
            elif value is False:
                cells.append("f")
            elif isinstance(value, str):
                cells.append(value.translate(_COPY_ESCAPES))
            elif isinstance(value, dt.datetime):
                cells.append(value.isoformat())
            else:
                cells.append(str(value))
        out.append("\t".join(cells))
    out.append("")
    return "\n".join(out).encode()


def null_safe_differs(conn: Connection) -> str:
    """The operator for "differs, with NULL equal to NULL" in this dialect.

    SQLite spells it ``IS NOT`` (``IS DISTINCT FROM`` only since 3.39);
    PostgreSQL ``IS DISTINCT FROM``.
    """
    return "IS DISTINCT FROM" if conn.dialect.name == "postgresql" else "IS NOT"


def sqlite_time_text(value: dt.datetime | None) -> str | None:
    """An aware time as the naive-UTC text :class:`UTCDateTime` stores on SQLite,
    for raw-SQL bulk paths that bypass SQLAlchemy's type processing."""
    if value is None:
        return None
    value = value.astimezone(dt.UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


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


def tune_for_bulk(conn: Connection) -> None:
    """PostgreSQL: memory for this transaction's big joins and index builds.

    The server default (``work_mem`` 4 MB) makes a million-row hash join spill
    to disk in batches; these settings last until the transaction ends.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")


def analyze(conn: Connection, table: Table) -> None:
    """PostgreSQL: statistics for a table just filled (temporary tables get
    none from autovacuum, and a planner guessing their size picks slow plans)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f'ANALYZE "{table.name}"')


def estimated_rows(conn: Connection, table: Table) -> int:
    """The planner's row estimate: free, and close enough to size a load."""
    if conn.dialect.name != "postgresql":
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    found = conn.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"),
        {"name": table.name},
    ).scalar()
    return max(0, int(found or 0))


@contextmanager
def indexes_rebuilt(conn: Connection, tables: Sequence[Table]) -> Iterator[None]:
    """PostgreSQL: drop ``tables``' secondary indexes and foreign keys, yield,
    then create them again — inside the caller's transaction.

    Why: maintaining an index and checking a foreign key row by row cost
    ~8 µs a row each on the 2-core reference machine, most of the time of a
    multi-million-row load; building an index by sorting and checking a
    foreign key with one join costs a fraction (docs/benchmarks.md), which is
    why ``pg_restore`` loads this way. Unique constraints go too, so the load
    must not rely on them (no ``ON CONFLICT``); they are checked again, all at
    once, when they come back. Primary keys stay: other tables point at them.
    The tables are locked ACCESS EXCLUSIVE until commit, so use this only for
    a load large compared to the table. If anything fails, the transaction
    rolls back with the schema intact.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    indexes = [index for table in tables for index in sorted(table.indexes, key=_name)]
    keys = [fk for table in tables for fk in sorted(table.foreign_key_constraints, key=_name)]
    unique = [
        constraint
        for table in tables
        for constraint in sorted(table.constraints, key=_name)
        if isinstance(constraint, UniqueConstraint)
    ]
    for constraint in [*keys, *unique]:
        conn.execute(DropConstraint(constraint))
    for index in indexes:
        conn.execute(DropIndex(index))
    yield
    for constraint in unique:
        conn.execute(AddConstraint(constraint))
    for index in indexes:
        conn.execute(CreateIndex(index))
    for fk in keys:
        conn.execute(AddConstraint(fk))  # checked by one join, not row by row


def _name(item: Index | Constraint) -> str:
    return str(item.name)


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


def driver_executemany(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run one statement for many parameter rows straight through the driver.

    ``sql`` uses ``?`` placeholders (rewritten to ``%s`` for psycopg). Values
    must already be what the driver takes: :func:`driver_time` for times.
    Why: SQLAlchemy's per-row parameter processing cost ~30 µs a row, more
    than the UPDATE itself, on the delivery ledger's hot path.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        sql = sql.replace("?", "%s")
    raw = conn.connection.driver_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def driver_time(conn: Connection, value: dt.datetime | None) -> Any:
    """An aware time as the driver should receive it for a :class:`UTCDateTime` column."""
    if conn.dialect.name == "postgresql" or value is None:
        return value
    return sqlite_time_text(value)


def update_many(
    conn: Connection,
    *,
    table: str,
    key: str,
    values: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    constants: dict[str, Any],
    guard: dict[str, Any],
) -> None:
    """``UPDATE table`` for many rows at once, each found by ``key``.

    ``rows`` are ``(key, *values)``; ``values`` names those columns with their
    PostgreSQL type; ``constants`` are set on every row (None: NULL); ``guard``
    adds ``AND column = value`` conditions. PostgreSQL: one statement joining
    ``unnest()`` of one array per column, instead of one execution per row
    (a thousand UPDATEs cost ~170 ms there, one joined UPDATE a few ms);
    SQLite: one executemany, in-process and already cheap. Values must be
    what the driver takes (:func:`driver_time` for times).
    """
    if not rows:
        return
    fixed = [f"{c} = NULL" for c, v in constants.items() if v is None]
    fixed_params = [v for v in constants.values() if v is not None]
    fixed_names = [c for c, v in constants.items() if v is not None]
    if conn.dialect.name == "postgresql":
        sets = [f"{c} = v.{c}" for c, _ in values] + [f"{c} = %s" for c in fixed_names] + fixed
        arrays = ", ".join(f"%s::{t}[]" for t in ["bigint", *(t for _, t in values)])
        names = ", ".join([key, *(c for c, _ in values)])
        where = " AND ".join([f"{table}.{key} = v.{key}", *(f"{table}.{c} = %s" for c in guard)])
        source = f"unnest({arrays}) AS v({names})"
        sql = f"UPDATE {table} SET {', '.join(sets)} FROM {source} WHERE {where}"
        columns = [list(column) for column in zip(*rows, strict=True)]
        params = [*fixed_params, *columns, *guard.values()]
        conn.exec_driver_sql(sql, tuple(params))
        return
    sets = [f"{c} = ?" for c, _ in values] + [f"{c} = ?" for c in fixed_names] + fixed
    where = " AND ".join([f"{key} = ?", *(f"{c} = ?" for c in guard)])
    sql = f"UPDATE {table} SET {', '.join(sets)} WHERE {where}"
    driver_executemany(
        conn, sql, [(*row[1:], *fixed_params, row[0], *guard.values()) for row in rows]
    )


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
