"""The database half of an import: TEMP staging tables and the set-based SQL
that checks them and merges them into customers, sites and site components.

Nothing here reads files or judges rows (that is :mod:`checks`); nothing
touches the real tables until :meth:`Stage.merge_customers` or
:meth:`Stage.merge_sites`, which the importer calls only once every check has
passed — so a refused import has written nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, MetaData, Table, Text, text
from sqlalchemy.engine import Connection

from amends.catalog.checks import CUSTOMER_STAGE, SITE_STAGE, Checked, Kind
from amends.catalog.models import CHANNELS, Customer, Site, SiteComponent
from amends.db import null_safe_differs
from amends.db.bulk import (
    analyze,
    bulk_load,
    estimated_rows,
    indexes_rebuilt,
    sqlite_time_text,
    tune_for_bulk,
)
from amends.errors import ImportProblem

Progress = Callable[[str, int, int], None]
"""Called with (phase, done, total): phase ``"read"`` counts bytes of the file,
``"merge"`` counts the steps of the final merge."""

STATISTICS_ROWS = 10_000  # PostgreSQL: a load that changes this many rows refreshes statistics
BULK_ROWS = 100_000  # PostgreSQL: a load this big, and big next to the table, rebuilds indexes

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
    Column("component_keys", Text),  # the raw cell, on PostgreSQL's own path (serverread)
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


class Stage:
    """The TEMP tables of one import and the set-based SQL over them."""

    def __init__(self, conn: Connection, kind: Kind) -> None:
        self.conn = conn
        self.kind = kind
        self.postgres = conn.dialect.name == "postgresql"
        self.differs = null_safe_differs(conn)
        self.table = _CUSTOMERS if kind == "customers" else _SITES
        self.links = _LINKS
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
        if existing == 0 and self._big(staged, Customer.__table__):
            # Every row is new: a plain INSERT, the unique key built once after
            # (see _rebuilding) instead of probed and maintained row by row.
            with indexes_rebuilt(self.conn, [Customer.__table__]):
                inserted = self._run(
                    f"""INSERT INTO customers (external_id, {columns}, created_at, updated_at)
                    SELECT external_id, {columns}, :now, :now FROM {t}""",
                    now=self._now(now),
                )
            _step(progress, 2, 2)
            return inserted, 0, 0
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

    def _rebuilding(
        self, new_rows: int, sites: Table, links: Table
    ) -> AbstractContextManager[None]:
        """Indexes rebuilt after the load when it adds many rows to the table;
        the links' primary key too (nothing refers to it). Foreign keys to big
        tables are checked by merge joins: at 5 M customers the links' key to
        10 M sites took 8.6-8.7 s that way, 13.5-15.0 s by hash (docs/benchmarks.md)."""
        if self._big(new_rows, sites):
            return indexes_rebuilt(
                self.conn, [sites, links], primary_keys=[links], merge_above=BULK_ROWS
            )
        return nullcontext()

    def _big(self, new_rows: int, table: Table) -> bool:
        """PostgreSQL, and a load big in itself and next to the table."""
        big = self.postgres and new_rows >= BULK_ROWS
        return big and new_rows >= estimated_rows(self.conn, table) // 2

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
