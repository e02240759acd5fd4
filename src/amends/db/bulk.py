"""Many rows at once: the fast paths for loads and hot-path updates, per backend.

Why a module of its own: these bypass the ORM and SQLAlchemy's per-value type
processing — ``COPY`` on PostgreSQL, the driver's ``executemany`` on SQLite,
one ``UPDATE … FROM unnest()`` for a thousand rows, indexes dropped and
rebuilt around a multi-million-row load — because at provider scale that
processing is most of the cost (docs/benchmarks.md). Only the importer, the
delivery ledger, credits and the impact counts need them; everything else
writes through :mod:`amends.db`'s sessions.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Constraint, Index, Table, UniqueConstraint, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a NOWAIT lock that would wait
LOCK_TRIES = 40  # × LOCK_PAUSE: how long a bulk load tries to take its locks at once
LOCK_PAUSE = 0.25


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
    driver accepts (times as the text :class:`amends.db.UTCDateTime` stores).
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


def sqlite_time_text(value: dt.datetime | None) -> str | None:
    """An aware time as the naive-UTC text :class:`amends.db.UTCDateTime` stores on SQLite,
    for raw-SQL bulk paths that bypass SQLAlchemy's type processing."""
    if value is None:
        return None
    value = value.astimezone(dt.UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def ids_from(conn: Connection, table: Table) -> int:
    """PostgreSQL: the first id of a block the caller numbers itself (``first +
    row_number() - 1``), drawn from the table's own sequence; :func:`ids_used`
    moves the sequence past the block.

    Why: a bulk load numbering its rows this way, instead of calling
    ``nextval`` for each, spent ~3 s less writing 5.7 M credits
    (docs/benchmarks.md). Only safe while the table is locked against other
    writers, who would draw the same ids.
    """
    found = conn.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id'))"), {"table": table.name}
    )
    return int(found.scalar_one())


def ids_used(conn: Connection, table: Table, last: int) -> None:
    """PostgreSQL: the table's sequence resumes after ``last`` (see :func:`ids_from`)."""
    conn.execute(
        text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :last)"),
        {"table": table.name, "last": last},
    )


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
def indexes_rebuilt(
    conn: Connection,
    tables: Sequence[Table],
    primary_keys: Sequence[Table] = (),
    *,
    merge_above: int | None = None,
) -> Iterator[None]:
    """PostgreSQL: drop ``tables``' secondary indexes and foreign keys, yield,
    then create them again — inside the caller's transaction.

    Why: maintaining an index and checking a foreign key row by row cost
    ~8 µs a row each on the 2-core reference machine, most of the time of a
    multi-million-row load; building an index by sorting and checking a
    foreign key with one join costs a fraction (docs/benchmarks.md), which is
    why ``pg_restore`` loads this way. Unique constraints go too, so the load
    must not rely on them (no ``ON CONFLICT``); they are checked again, all at
    once, when they come back. Primary keys stay (other tables point at
    them), except those of ``primary_keys``: their key is dropped too, with the
    foreign keys of other tables that point at it, and all come back after
    (4 M links written with their key in place took ~25 s here, without it and
    the key built after ~17 s; 5.7 M credits 9.7 s against 4.6 s + 1.9 s).
    The tables, and those their foreign keys point at, are locked ACCESS
    EXCLUSIVE until commit — all at once (:func:`locked_at_once`, for up to
    10 s, then waiting as the drops would) — so use this only for a load large
    compared to the table. If anything fails, the transaction
    rolls back with the schema intact.

    ``merge_above``: a foreign key to a table of at least that many rows is
    checked by a merge join (both sides sorted) instead of the planner's
    hash join. PostgreSQL 15 runs that check without parallel workers, and
    hashing the whole referenced table spills past ``maintenance_work_mem``:
    10 M sites took 22.6 s by hash, 11.0 s by merge (docs/benchmarks.md).
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    indexes = [index for table in tables for index in sorted(table.indexes, key=_name)]
    keys = [fk for table in tables for fk in sorted(table.foreign_key_constraints, key=_name)]
    incoming = _pointing_at(primary_keys, outside=tables)
    locked = locked_by(tables, primary_keys)
    if not locked_at_once(conn, locked, tries=LOCK_TRIES, pause=LOCK_PAUSE):
        _lock(conn, locked, nowait=False)  # as the drops below would: wait
    unique = [
        constraint
        for table in tables
        for constraint in sorted(table.constraints, key=_name)
        if isinstance(constraint, UniqueConstraint)
    ]
    unique += [table.primary_key for table in primary_keys]
    for constraint in [*incoming, *keys, *unique]:
        conn.execute(DropConstraint(constraint))
    for index in indexes:
        conn.execute(DropIndex(index))
    yield
    for constraint in unique:
        conn.execute(AddConstraint(constraint))
    for index in indexes:
        conn.execute(CreateIndex(index))
    for fk in [*keys, *incoming]:
        big = merge_above is not None and estimated_rows(conn, fk.referred_table) >= merge_above
        with planner_without(conn, "hashjoin", "nestloop") if big else nullcontext():
            conn.execute(AddConstraint(fk))  # checked by one join, not row by row


def _pointing_at(tables: Sequence[Table], *, outside: Sequence[Table]) -> list[Any]:
    """Foreign keys of other tables (not in ``outside``) that refer to ``tables``."""
    found = []
    for table in tables:
        for other in sorted(table.metadata.tables.values(), key=lambda t: t.name):
            if other in outside:
                continue
            found += [
                fk
                for fk in sorted(other.foreign_key_constraints, key=_name)
                if fk.referred_table is table
            ]
    return found


def locked_by(tables: Sequence[Table], primary_keys: Sequence[Table] = ()) -> list[str]:
    """The tables :func:`indexes_rebuilt` locks: ``tables``, every table one of
    their foreign keys points at (dropping a foreign key locks both ends), and
    every table whose foreign key points at one of ``primary_keys``."""
    names = {t.name for t in tables}
    names |= {fk.referred_table.name for t in tables for fk in t.foreign_key_constraints}
    names |= {fk.table.name for fk in _pointing_at(primary_keys, outside=tables)}
    return sorted(names)


def locked_at_once(conn: Connection, names: Sequence[str], *, tries: int, pause: float) -> bool:
    """PostgreSQL: ACCESS EXCLUSIVE locks on every table in ``names`` by one
    ``LOCK TABLE … NOWAIT`` in a savepoint, tried ``tries`` times ``pause``
    seconds apart; False if a reader held one of them every time.

    Why: taken one by one (as dropping foreign keys takes them), a load holding
    ``customers`` and waiting for a reader of ``sites`` deadlocks with that
    reader as soon as it reads ``customers``, and every later reader queues
    behind the load's pending request. ``NOWAIT`` fails at once instead, and
    the savepoint's rollback gives back whatever was taken (docs/benchmarks.md).
    """
    for attempt in range(tries):
        if attempt:
            time.sleep(pause)
        try:
            with conn.begin_nested():
                _lock(conn, names, nowait=True)
            return True
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
    return False


def _lock(conn: Connection, names: Sequence[str], *, nowait: bool) -> None:
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(name) for name in names)
    mode = "ACCESS EXCLUSIVE MODE" + (" NOWAIT" if nowait else "")
    conn.exec_driver_sql(f"LOCK TABLE {quoted} IN {mode}")


@contextmanager
def planner_without(conn: Connection, *methods: str) -> Iterator[None]:
    """PostgreSQL, within: the planner may not use these ``enable_*`` methods
    (e.g. ``hashjoin``); after: the settings the transaction had
    (``set_config`` local to the transaction). Nothing on SQLite.

    Why: for a few statements over whole tables that are already in key order,
    a merge join and a streamed aggregate beat the hash the planner picks,
    which spills to disk at millions of rows (docs/benchmarks.md).
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    names = [f"enable_{method}" for method in methods]
    before = {name: conn.exec_driver_sql(f"SHOW {name}").scalar_one() for name in names}
    for name in names:
        conn.execute(text("SELECT set_config(:name, 'off', true)"), {"name": name})
    yield
    for name, value in before.items():
        conn.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})


def _name(item: Index | Constraint) -> str:
    return str(item.name)


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
    """An aware time as the driver should receive it for a :class:`amends.db.UTCDateTime` column."""
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
