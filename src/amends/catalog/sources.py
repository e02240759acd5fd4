"""Reading import files (CSV, JSONL, gzip'd or not), and the rejects report.

Kept apart from the importer's database work because "what is on line 17 of
this file, and is it valid" needs no database: BOMs, CRLF, quoted newlines,
gzip and broken JSON are handled here once, and every problem leaves this
module naming file, line and field.

The work is split so the expensive half runs in worker processes:
:meth:`Source.blocks` (in the importing process) only cuts the file into
blocks of whole records; :func:`amends.catalog.checks.check_block` (in any
process) parses and judges a block. A block carries its raw lines and the
number of its first line, so line numbers are exact whichever process checks
it.

The rejects report is written here too, because it must echo each rejected
row exactly as the source held it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

from amends.errors import ImportProblem, ImportRejected

Format = Literal["csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl")
_EXTENSIONS: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_GZIP_MAGIC = b"\x1f\x8b"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One record of the file.

    ``values`` is None when the record could not even be read as one (bad
    JSON, wrong number of CSV cells); ``error`` then says why. ``raw`` is the
    record as written (CSV cells or the JSON text) for the rejects report.
    """

    line: int
    values: dict[str, Any] | None
    error: str | None
    raw: list[str] | str


@dataclass(frozen=True, slots=True)
class Layout:
    """What :func:`parse_block` needs to know about a file; small and picklable."""

    format: Format
    header: tuple[str, ...] | None
    list_fields: frozenset[str]


Block = tuple[int, list[str]]
"""The number of the first line, and the raw lines of whole records."""


def guess_format(path: Path) -> Format:
    """The format from the extension, ignoring a trailing ``.gz``."""
    name = path.name.lower().removesuffix(".gz")
    fmt = _EXTENSIONS.get(Path(name).suffix)
    if fmt is None:
        raise ImportRejected(
            [ImportProblem(str(path), None, None, "cannot tell the format from the file name")],
            hint="name it .csv, .jsonl or .ndjson (optionally .gz), or give the format",
        )
    return fmt


class Source:
    """An open import file: :meth:`blocks` to cut it, iteration for rows.

    CSV: the first non-blank record is the header; empty cells count as absent
    (the field's default applies), except in ``list_fields``, where an empty
    cell is an empty list. JSONL: one JSON object per line, blank lines skipped,
    numbers kept as their exact text (money is never a float), so a JSON value
    is judged exactly like the same value in a CSV cell.
    """

    def __init__(
        self,
        path: Path,
        fmt: Format | None = None,
        *,
        fields: Collection[str] = (),
        required: Collection[str] = (),
        list_fields: Collection[str] = (),
    ) -> None:
        self.path = Path(path)
        self.name = str(path)
        if fmt is not None and fmt not in FORMATS:
            raise ImportRejected([ImportProblem(self.name, None, None, f"unknown format {fmt!r}")])
        if not self.path.is_file():
            raise ImportRejected([ImportProblem(self.name, None, None, "no such file")])
        self.format: Format = fmt or guess_format(self.path)
        self.size = os.path.getsize(self.path)
        self._fields = frozenset(fields)
        self._required = tuple(required)
        self._binary: IO[bytes] | None = None
        self.body_line = 1  # CSV: the first line after the header record
        header = self._read_header() if self.format == "csv" else None
        self.header = header
        self.layout = Layout(self.format, header, frozenset(list_fields))

    @contextmanager
    def _open_bytes(self) -> Iterator[IO[bytes]]:
        """The file's bytes, gunzipped when it starts with the gzip magic.

        The file itself is closed here: ``GzipFile`` never closes a file
        object it was handed.
        """
        with open(self.path, "rb") as binary:
            self._binary = binary
            if binary.read(2) != _GZIP_MAGIC:
                binary.seek(0)
                yield binary
                return
            binary.seek(0)
            with gzip.GzipFile(fileobj=binary, mode="rb") as unzipped:
                yield unzipped

    @contextmanager
    def _open_text(self) -> Iterator[IO[str]]:
        """Text stream of the file. ``utf-8-sig`` drops a BOM; ``newline=""``
        keeps line ends as written so the csv module sees CRLF inside quoted
        cells as data."""
        with (
            self._open_bytes() as data,
            io.TextIOWrapper(data, encoding="utf-8-sig", newline="") as text,
        ):
            yield text

    @contextmanager
    def open_bytes(self) -> Iterator[IO[bytes]]:
        """The file's bytes, gunzipped if need be, for a reader that parses them
        itself (PostgreSQL's ``COPY``); :meth:`position` follows it."""
        with self._open_bytes() as data:
            yield data

    def position(self) -> int:
        """Bytes of the (possibly compressed) file consumed so far, for progress."""
        if self._binary is None or self._binary.closed:
            return self.size
        return self._binary.tell()

    def _fail(self, line: int | None, message: str) -> ImportRejected:
        return ImportRejected([ImportProblem(self.name, line, None, message)])

    def _guard(self, items: Iterable[T], line: Callable[[], int]) -> Iterator[T]:
        """Turn decoding, gzip and CSV syntax failures into a problem naming the line.

        ``line()`` is the number of the line the next record starts on.
        """
        iterator = iter(items)
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise self._fail(self._undecodable_line(), "the file is not UTF-8 text") from None
            except csv.Error as exc:
                raise self._fail(line(), _csv_message(exc)) from None
            except (EOFError, OSError, zlib.error) as exc:  # BadGzipFile is an OSError
                # Damaged compressed data has no line; where decoding gave up
                # is a chunk boundary, not a place in the text.
                raise self._fail(None, f"cannot read the file: {exc}") from None
            yield item

    def _undecodable_line(self) -> int | None:
        """The line holding the first byte that is not UTF-8.

        The text stream decodes the file in chunks of many lines, so where it
        fails says little; the bytes, split at ``\n`` (never part of a UTF-8
        sequence), say exactly. Lines are counted as the text stream counts
        them: a lone ``\r`` ends one too.
        """
        line = 1
        try:
            with self._open_bytes() as data:
                for raw in data:
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        return line + raw[: exc.start].count(b"\r")
                    line += raw.count(b"\n") + raw.count(b"\r") - raw.count(b"\r\n")
        except (EOFError, OSError, zlib.error):
            pass
        return None

    def _read_header(self) -> tuple[str, ...]:
        with self._open_text() as text:
            reader = csv.reader(text, strict=True)
            done = [0]  # lines of the records read so far
            for cells in self._guard(reader, lambda: done[0] + 1):
                if any(cell.strip() for cell in cells):
                    self.body_line = reader.line_num + 1
                    return self._check_header([c.strip() for c in cells], done[0] + 1)
                done[0] = reader.line_num
        raise self._fail(None, "the file is empty: no header line")

    def _check_header(self, header: list[str], line: int) -> tuple[str, ...]:
        """Refuse the whole file for a column it cannot mean: every row would fail."""
        problems = [
            ImportProblem(self.name, line, name or None, f"unknown column {name!r}")
            for name in header
            if name not in self._fields
        ]
        problems += [
            ImportProblem(self.name, line, name, f"column {name!r} appears twice")
            for i, name in enumerate(header)
            if name in header[:i]
        ]
        problems += [
            ImportProblem(self.name, line, name, f"required column {name!r} is missing")
            for name in self._required
            if name not in header
        ]
        if problems:
            raise ImportRejected(problems, hint=f"known columns: {', '.join(sorted(self._fields))}")
        return tuple(header)

    def blocks(self, rows: int) -> Iterator[Block]:
        """The file cut into blocks of about ``rows`` records, header excluded.

        For CSV the csv module itself finds where records end (a quoted cell
        may span lines), so a block never splits a record.
        """
        with self._open_text() as text:
            if self.format == "jsonl":
                yield from self._jsonl_blocks(text, rows)
            else:
                yield from self._csv_blocks(text, rows)

    def _jsonl_blocks(self, text: IO[str], rows: int) -> Iterator[Block]:
        lines: list[str] = []
        read = [0]  # lines read so far, for the line number of a read error
        for line in self._guard(text, lambda: read[0] + 1):
            read[0] += 1
            lines.append(line)
            if len(lines) >= rows:
                yield read[0] - len(lines) + 1, lines.copy()
                lines.clear()
        if lines:
            yield read[0] - len(lines) + 1, lines.copy()

    def _csv_blocks(self, text: IO[str], rows: int) -> Iterator[Block]:
        taken: list[str] = []

        def tap() -> Iterator[str]:
            for line in text:
                taken.append(line)
                yield line

        reader = csv.reader(tap(), strict=True)
        start, records, in_header = 1, 0, True
        after = [1]  # the line after the last whole record: where a broken one starts
        for cells in self._guard(reader, lambda: after[0]):
            after[0] = start + len(taken)
            if in_header:
                if any(cell.strip() for cell in cells):  # the header: not data
                    in_header = False
                    start += len(taken)
                    taken.clear()
                continue
            records += 1
            if records >= rows:
                yield start, taken.copy()
                start += len(taken)
                taken.clear()
                records = 0
        if taken:
            yield start, taken.copy()

    def __iter__(self) -> Iterator[SourceRow]:
        for start, lines in self.blocks(10_000):
            yield from parse_block(self.layout, start, lines)


def parse_block(layout: Layout, start: int, lines: list[str]) -> Iterator[SourceRow]:
    """The records of one block, each with its line number in the whole file."""
    if layout.format == "jsonl":
        return _jsonl_rows(start, lines)
    return _csv_rows(layout, start, lines)


def _csv_rows(layout: Layout, start: int, lines: list[str]) -> Iterator[SourceRow]:
    assert layout.header is not None
    header, lists = layout.header, layout.list_fields
    width = len(header)
    reader = csv.reader(lines, strict=True)
    end = start - 1  # the line on which the previous record ended
    for cells in reader:
        first, end = end + 1, start - 1 + reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != width:
            message = f"{len(cells)} values, but the header has {width} columns"
            yield SourceRow(first, None, message, cells)
            continue
        values = {
            name: cell
            for name, cell in zip(header, cells, strict=True)
            if name in lists or cell.strip()
        }
        yield SourceRow(first, values, None, cells)


def _jsonl_rows(start: int, lines: list[str]) -> Iterator[SourceRow]:
    for number, line in enumerate(lines, start=start):
        if not line.strip():
            continue
        raw = line.rstrip("\r\n")
        try:
            values = json.loads(line, parse_float=str, parse_int=str, parse_constant=_no_nan)
        except ValueError as exc:
            yield SourceRow(number, None, f"not valid JSON: {exc}", raw)
            continue
        if not isinstance(values, dict):
            yield SourceRow(number, None, "expected a JSON object", raw)
            continue
        yield SourceRow(number, values, None, raw)


def _csv_message(exc: csv.Error) -> str:
    message = str(exc)
    if message == "unexpected end of data":
        return "a quoted value is never closed (the file ends inside it)"
    return f"not valid CSV: {message}"


def _no_nan(name: str) -> Any:
    """JSON has no NaN or Infinity; Python's parser accepts them unless told."""
    raise ValueError(f"{name} is not a JSON value")


# -- the rejects report -----------------------------------------------------


def write_rejects(path: Path, source: Source, reasons: Mapping[int, list[ImportProblem]]) -> None:
    """One CSV row per rejected record, in file order: its line, its field(s),
    the reason(s), then the record as the source held it (the CSV cells under
    the original header, or the JSON text in ``record``) so it can be fixed and
    imported again.

    Written to a temporary name and renamed, so a half-written report never
    looks like a finished one.
    """
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        extra = list(source.header) if source.header is not None else ["record"]
        writer.writerow(["line", "field", "reason", *extra])
        if reasons:
            for row in source:
                found = reasons.get(row.line)
                if found is None:
                    continue
                fields = ";".join(dict.fromkeys(p.field for p in found if p.field))
                reason = "; ".join(p.reason for p in found)
                raw = row.raw if isinstance(row.raw, list) else [row.raw]
                writer.writerow([row.line, fields, reason, *raw])
    os.replace(tmp, path)
