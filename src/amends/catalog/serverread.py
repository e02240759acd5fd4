"""Sites files read by PostgreSQL itself: the fast path of a CSV sites import.

Why: a site row has no e-mail or phone, so every rule a plainly valid row must
pass (lengths, digits, a known currency, state and components, ISO times)
fits in SQL. Cutting, parsing and judging ten million rows in Python costs
~20 µs a row across the processes (docs/benchmarks.md); PostgreSQL's own
``COPY`` and a set-based ``INSERT … SELECT`` do the same work in C.

How, keeping every answer of the Python path:

1. the file's bytes go untouched into a TEMP table, one row per physical line
   numbered by an identity column (``COPY`` in CSV mode with a delimiter and
   quote byte the file does not hold, so nothing is split or unquoted);
2. one ``INSERT … SELECT`` stages the lines that are *plainly* valid, by the
   same conservative rules as :mod:`fastcheck` (no blank at either end, a
   timestamp of the one common shape, …); a components cell is judged once per
   distinct value, in Python, by those same rules;
3. every other line — a quoted record (maybe over several lines), a blank
   line, anything unusual or wrong — goes back to :func:`checks.check_block`
   in blocks of whole records with their line numbers, so the record models
   still decide and word every refusal.

Anything this path cannot vouch for (a NUL, a lone carriage return, a quote
left open, bytes that are not UTF-8, a line count that does not tally) raises
:class:`Unfit` before a problem is reported, and the caller rolls back to its
savepoint and reads the file the ordinary way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Connection

from amends.catalog.models import SiteState
from amends.catalog.records import MAX_PRICE_MINOR, _currencies
from amends.catalog.sources import Block, Source

RAW = "import_sites_raw"
CELLS = "import_sites_cells"
CHUNK = 1 << 20
MAX_QUOTED_LINES = 50_000  # beyond this (an export quoting every cell), the ordinary path
_FORBIDDEN = (b"\x00", b"\x01", b"\x02")  # NUL: not text; 1 and 2: the COPY delimiter and quote


class Unfit(Exception):
    """This file needs the ordinary path (see the module docstring)."""


@dataclass
class Copied:
    """What streaming the file taught: its line count, line end, and the lines
    holding quotes grouped into runs of whole records (first, last line)."""

    lines: int = 0
    body: int = 1
    eol: str = "\n"
    runs: list[tuple[int, int]] = field(default_factory=list)

    def multirange(self) -> str:
        return "{" + ",".join(f"[{a},{b}]" for a, b in self.runs) + "}"


def copy_lines(conn: Connection, source: Source, progress: Any = None) -> Copied:
    """Stream the file into the TEMP table ``RAW`` (line, raw), one row a line."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {RAW}")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {RAW} (line bigint GENERATED ALWAYS AS IDENTITY, raw text)"
        " ON COMMIT DROP"
    )
    driver = conn.connection.driver_connection
    assert driver is not None
    copied = Copied(body=source.body_line)
    quotes: dict[int, int] = {}
    sql = f"COPY {RAW} (raw) FROM STDIN (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')"
    try:
        rows = _stream(driver, sql, source, copied, quotes, progress)
    except psycopg.Error as exc:  # e.g. bytes that are not UTF-8: the ordinary path words it
        raise Unfit(str(exc)) from None
    if rows != copied.lines:
        raise Unfit(f"{rows} rows for {copied.lines} lines")
    copied.runs = _runs(quotes, copied.lines, source.body_line)
    return copied


def _stream(
    driver: Any, sql: str, source: Source, copied: Copied, quotes: dict[int, int], progress: Any
) -> int:
    """COPY the file's bytes, counting its lines and the quotes on each."""
    newlines, tail = 0, b""
    with source.open_bytes() as data, driver.cursor() as cursor:
        with cursor.copy(sql) as copy:
            while chunk := data.read(CHUNK):
                if not newlines and not tail:
                    copied.eol = _line_end(chunk)
                marker = b"\\." in chunk or (tail == b"\\" and chunk[:1] == b".")
                if marker or any(b in chunk for b in _FORBIDDEN):
                    raise Unfit("a byte COPY cannot pass through")
                if b'"' in chunk:
                    _count_quotes(chunk, newlines, quotes)
                    if len(quotes) > MAX_QUOTED_LINES:
                        raise Unfit("quotes on too many lines: Python parses them anyway")
                newlines += chunk.count(b"\n")
                tail = chunk[-1:]
                copy.write(chunk)
                if progress is not None:
                    progress("read", source.position(), source.size)
        rows = int(cursor.rowcount)
    copied.lines = newlines + (1 if tail and tail != b"\n" else 0)
    return rows


def _line_end(chunk: bytes) -> str:
    end = chunk.find(b"\n")
    if end < 0:
        raise Unfit("no line end in the first chunk")
    if b"\r" in chunk[: max(0, end - 1)]:
        raise Unfit("a carriage return alone ends a line")
    return "\r\n" if end and chunk[end - 1 : end] == b"\r" else "\n"


def _count_quotes(chunk: bytes, before: int, quotes: dict[int, int]) -> None:
    """Quote characters per line number (cost: one step per quote, not per line)."""
    at, line, counted = chunk.find(b'"'), before + 1, 0
    while at >= 0:
        line += chunk.count(b"\n", counted, at)
        counted = at
        quotes[line] = quotes.get(line, 0) + 1
        at = chunk.find(b'"', at + 1)


def _runs(quotes: Mapping[int, int], lines: int, body: int) -> list[tuple[int, int]]:
    """Lines that belong to records holding a quote: from a line with quotes
    where no quoted value is open, to the line that closes every one."""
    runs: list[tuple[int, int]] = []
    start, odd = 0, False
    for line in sorted(quotes):
        if not odd:
            start = line
        odd ^= bool(quotes[line] & 1)
        if not odd and line >= body:
            runs.append((max(start, body), line))
        elif not odd and start < body <= line:
            raise Unfit("the header spans the body")
    if odd:
        raise Unfit("a quoted value is never closed")
    return runs


def _time(cell: str) -> str:
    """The cell as a timestamptz when it has the common ISO shape (seconds, an
    offset of at most 14 hours or ``Z``) and a real date, else NULL; never an
    error: the casts run only in the CASE branch the checks open."""
    at = {"y": (1, 4), "m": (6, 2), "d": (9, 2), "h": (12, 2), "i": (15, 2), "s": (18, 2),
          "oh": (21, 2), "om": (24, 2)}  # fmt: skip
    y, m, d, h, i, sec, oh, om = (f"substr({cell}, {a}, {n})::int" for a, n in at.values())
    days = (
        f"CASE WHEN {m} = 2 THEN CASE WHEN {y} % 4 = 0 AND ({y} % 100 <> 0 OR {y} % 400 = 0)"
        f" THEN 29 ELSE 28 END WHEN {m} IN (4, 6, 9, 11) THEN 30 ELSE 31 END"
    )
    shapes = ", ".join(f"'####-##-##T##:##:##{end}'" for end in ("+##:##", "-##:##", "Z"))
    ranges = (
        f"{y} BETWEEN 1900 AND 2999 AND {m} BETWEEN 1 AND 12 AND {d} BETWEEN 1 AND {days}"
        f" AND {h} < 24 AND {i} < 60 AND {sec} < 60"
        f" AND (length({cell}) = 20 OR ({oh} <= 14 AND {om} < 60))"
    )
    return (
        f"CASE WHEN translate({cell}, '0123456789', '##########') IN ({shapes})"
        f" THEN CASE WHEN {ranges} THEN {cell}::timestamptz END END"
    )


_PLAIN_LINE = (
    "raw ~ '^[ -~]*$' AND strpos(raw, ', ') = 0 AND strpos(raw, ' ,') = 0"
    " AND raw NOT LIKE ' %' AND raw NOT LIKE '% '"
)
"""Printable ASCII, and no cell begins or ends with a space: Python's strip()
changes no cell of such a line (checked once a line, cheaper than per cell)."""


def _constant(values: list[str]) -> str:
    """An array literal of plain codes, so the planner can hash ``= ANY``."""
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", v) for v in values)
    return "'{" + ",".join(values) + "}'::text[]"


def stage_plain_sites(conn: Connection, copied: Copied, header: tuple[str, ...], stage: str) -> int:
    """Stage every plainly valid line of the body; returns how many.

    Careful: PostgreSQL folds constant expressions while planning, even in a
    CASE branch not taken, so a column the header lacks must stand for a
    value every cast accepts (NULL), never for ``''``.
    """
    where = {name: i + 1 for i, name in enumerate(header)}

    def cell(name: str, default: str = "''") -> str:
        return f"coalesce(c[{where[name]}], '')" if name in where else default

    price, keys = cell("monthly_price_minor", "NULL::text"), cell("components")
    state = f"coalesce(nullif({cell('state')}, ''), 'active')"
    ended = f"nullif({cell('ended_at')}, '')"
    ok = [
        f"plain AND cardinality(c) = {len(header)}",
        *(f"octet_length({cell(n)}) BETWEEN 1 AND {limit}" for n, limit in (
            ("external_id", 128), ("customer", 128), ("domain", 253), ("plan", 64))),
        f"{cell('monthly_price')} = ''",
        f"{cell('currency')} = ANY({_constant(sorted(_currencies()))})",
        f"{state} = ANY({_constant([s.value for s in SiteState])})",
        f"{keys} ~ '^[A-Za-z0-9_;-]*$'",
    ]  # fmt: skip
    parsed = f"""SELECT line, c, {state} AS state, {keys} AS keys,
            CASE WHEN {" AND ".join(ok)} THEN true ELSE false END AS ok,
            CASE WHEN {price} ~ '^[0-9]{{1,16}}$' THEN {price}::bigint END AS minor,
            {_time(cell("started_at"))} AS started,
            {_time(ended)} AS ended, {ended} IS NULL AS open
        FROM (SELECT line, string_to_array(raw, ',') AS c, {_PLAIN_LINE} AS plain FROM {RAW}
              WHERE line >= :body AND NOT (CAST(:runs AS int8multirange) @> line)
              OFFSET 0) r
        OFFSET 0"""
    columns = ("external_id", "customer", "domain", "plan")
    staged = conn.execute(
        text(f"""INSERT INTO {stage} (line, {", ".join(columns)}, monthly_price_minor,
            currency, state, service_started_at, service_ended_at, component_keys)
        SELECT line, {", ".join(cell(n) for n in columns)}, minor,
            {cell("currency")}, state, started, ended, keys
        FROM ({parsed}) p
        WHERE ok AND minor <= {MAX_PRICE_MINOR} AND started IS NOT NULL
          AND (open OR ended IS NOT NULL) AND (ended IS NULL OR ended >= started)
          AND (state <> 'cancelled' OR ended IS NOT NULL)"""),
        {
            "body": copied.body,
            "runs": copied.multirange(),
        },
    ).rowcount
    return int(staged)


def link_components(
    conn: Connection, stage: str, links: str, components: Mapping[str, int]
) -> list[int]:
    """Links of the staged lines, each distinct components cell judged once in
    Python as :func:`fastcheck.site` would; returns the lines whose cell names
    an unknown component (taken out of the stage, for the record models)."""
    cells = [c for (c,) in conn.execute(text(f"SELECT DISTINCT component_keys FROM {stage}"
                                             " WHERE component_keys IS NOT NULL"))]  # fmt: skip
    known: dict[str, list[int]] = {}
    unknown: list[str] = []
    for value in cells:
        names = sorted({k.strip() for k in value.replace(",", ";").split(";") if k.strip()})
        if all(name in components for name in names):
            known[value] = [components[name] for name in names]
        else:
            unknown.append(value)
    moved: list[int] = []
    if unknown:
        moved = list(conn.execute(
            text(f"DELETE FROM {stage} WHERE component_keys = ANY(:cells) RETURNING line"),
            {"cells": unknown},
        ).scalars())  # fmt: skip
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {CELLS}")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {CELLS} (keys text, ids int[]) ON COMMIT DROP")
    if known:
        conn.execute(
            text(f"INSERT INTO {CELLS} (keys, ids) VALUES (:keys, CAST(:ids AS int[]))"),
            [{"keys": k, "ids": ids} for k, ids in known.items()],
        )
        conn.exec_driver_sql(f"""INSERT INTO {links} (line, component_id)
            SELECT s.line, unnest(k.ids) FROM {stage} s
            JOIN {CELLS} k ON k.keys = s.component_keys""")
    conn.exec_driver_sql(f"DROP TABLE {CELLS}")
    return sorted(moved)


def other_blocks(
    conn: Connection, copied: Copied, stage: str, staged: int, rows: int
) -> Iterator[Block]:
    """The lines not staged, in blocks of about ``rows`` whole records with
    their line numbers, for :func:`checks.check_block`."""
    candidates = copied.lines - copied.body + 1
    if staged >= candidates:
        return
    result = conn.execute(
        text(f"""SELECT line, raw FROM {RAW} r WHERE line >= :body
            AND (CAST(:runs AS int8multirange) @> line
                 OR NOT EXISTS (SELECT 1 FROM {stage} s WHERE s.line = r.line))
            ORDER BY line"""),
        {"body": copied.body, "runs": copied.multirange()},
        execution_options={"stream_results": True, "yield_per": 10_000},
    )
    try:
        yield from _whole_records(result, copied, rows)
    finally:
        result.close()


def _whole_records(rows: Iterable[Any], copied: Copied, size: int) -> Iterator[Block]:
    """Consecutive lines grouped into blocks, never cutting a quoted record."""
    runs = iter(copied.runs)
    run = next(runs, None)
    start, lines, expected = 0, [], 0
    for line, raw in rows:
        while run is not None and run[1] < line:
            run = next(runs, None)
        continues = run is not None and run[0] < line <= run[1]
        if lines and not continues and (line != expected or len(lines) >= size):
            yield start, lines
            lines = []
        if not lines:
            start = line
        lines.append((raw or "") + copied.eol)
        expected = line + 1
    if lines:
        yield start, lines


def drop(conn: Connection) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {RAW}")
