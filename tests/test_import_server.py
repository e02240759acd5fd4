"""PostgreSQL reading a CSV sites file itself (catalog.serverread) must give
exactly what the Python path gives: the same rows stored, the same problems
(file, line, field, message), the same rejects report — and it must really
take the plainly valid rows off Python's hands, or it is not worth having."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from amends.catalog import checks, importer, serverread
from amends.db import make_engine, session_factory, unit_of_work
from amends.errors import ImportRejected
from tests import factories
from tests.conftest import _truncate_postgres

HEADER = ("external_id", "customer", "domain", "plan", "monthly_price_minor", "currency",
          "state", "components", "started_at", "ended_at")  # fmt: skip
PLAIN = [
    ["s1", "k1", "one.example", "basic", "999", "EUR", "active", "dns;web-hosting",
     "2012-01-02T03:04:05+00:00", ""],
    ["s2", "k2", "two.example", "pro", "0", "JPY", "", "", "2011-12-31T23:59:59Z", ""],
    ["s3", "k1", "three.example", "pro", "1000000000000000", "BHD", "cancelled",
     "email;dns", "2012-02-29T10:00:00-05:30", "2012-03-01T00:00:00+01:00"],
    ["s4", "k3", "four.example", "x", "12", "USD", "published", "domains;;",
     "1999-07-01T00:00:00+14:00", "2030-01-01T00:00:00Z"],
]  # fmt: skip
BASE = dict(zip(HEADER, ["", "k2", "", "basic", "5", "EUR", "active", "dns",
                         "2012-01-01T00:00:00Z", ""], strict=True))  # fmt: skip


def _row(external_id: str, **changes: str) -> list[str]:
    values = {**BASE, "external_id": external_id, "domain": f"{external_id}.example", **changes}
    return [values[name] for name in HEADER]


ODD = [  # each one the models must see: to accept, normalise or refuse
    _row("s5", domain=" spaced.example "),
    _row("s6", currency="usd"),
    _row("s7", started_at="2011-02-29T00:00:00Z"),
    _row("s8", monthly_price_minor="-5"),
    _row("s9", components="dns;ftp"),
    _row("s10", components="dns;dns"),
    _row("s11", domain='quoted, "multi"\nline'),
    _row("s12", state="cancelled"),
    _row("s13", ended_at="2011-01-01T00:00:00Z"),
    _row("s14", started_at="2012-01-01 00:00:00+02:00"),
    _row("s15", started_at="2012-01-01T00:00:00"),
    _row("s16", monthly_price_minor="10000000000000001"),
    _row("s17", customer="nobody"),
    _row("s1", domain="again.example"),
    _row("s18", state="paused"),
    _row("s19", domain="ñ.example"),
    _row("s20", started_at="2012-01-01T00:00:00+15:00"),
    _row("s21", started_at="2012-01-01T00:00:00.25+01:00"),
    _row("s22", plan="two words"),
]


@pytest.fixture
def postgres_url(postgres_database: str) -> Iterator[str]:
    """The shared test database, left empty for the next test (as ``database_url`` does)."""
    yield postgres_database
    engine = make_engine(postgres_database)
    _truncate_postgres(engine)
    engine.dispose()


@pytest.fixture
def judged_in_python(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records the number of rows each block judged in Python holds."""
    seen: list[int] = []
    real = checks.check_block

    def counting(job: checks.Job, block: Any) -> checks.Checked:
        out = real(job, block)
        seen.append(out.read)
        return out

    monkeypatch.setattr(importer, "check_block", counting)
    return seen


def _text(rows: list[list[str]], newline: str = "\n", blank: bool = False) -> str:
    lines = [factories.csv_line(HEADER, newline)]
    for i, row in enumerate(rows):
        lines.append(factories.csv_line(row, newline))
        if blank and i == 1:
            lines.append(newline)
    return "".join(lines)


def _outcome(url: str, tmp: Path, path: Path, skip: bool) -> tuple[Any, ...]:
    """Everything an import shows: problems or counts, rejects report, rows stored."""
    url = factories.fresh_database(url, tmp, tmp)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        factories.hosting_catalog(session)
        for owner in ("k1", "k2", "k3"):
            factories.customer(session, external_id=owner)
    try:
        options: dict[str, Any] = {"workers": 1, "skip_invalid": skip}
        if skip:
            options["rejects_path"] = tmp / f"{path.name}.rejects"
        try:
            result = factories.run_import(sessions, "sites", path, **options)
        except ImportRejected as refused:
            problems = [(p.line, p.field, p.reason) for p in refused.problems]
            return problems, factories.stored_sites(engine)
        report = factories.read_csv(Path(str(result.rejects_file))) if skip else None
        return factories.counts(result), report, factories.stored_sites(engine)
    finally:
        engine.dispose()


def _both(
    url: str, tmp: Path, path: Path, skip: bool, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, ...]]:
    """The outcome on PostgreSQL's own path, then on the Python path."""
    yield _outcome(url, tmp, path, skip)
    with monkeypatch.context() as patch:
        patch.setattr(importer, "_server_reads", lambda job: False)
        yield _outcome(url, tmp, path, skip)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_plain_file_is_judged_by_postgres_alone(
    postgres_url: str, tmp_path: Path, judged_in_python: list[int], newline: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    path = factories.write_text(tmp_path / "plain.csv", _text(PLAIN, newline), bom=True)
    server, python = _both(postgres_url, tmp_path, path, False, monkeypatch)
    assert server == python
    assert server[0] == (4, 4, 0, 0, 0)
    assert sum(judged_in_python) == len(PLAIN)  # all of them on the Python run only
    assert server[2]["s4"]["components"] == ["domains"]


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_odd_rows_get_the_models_answers(
    postgres_url: str, tmp_path: Path, judged_in_python: list[int], newline: str, skip: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    odd = [[cell.replace("\n", newline) for cell in row] for row in ODD]  # a CRLF file's own
    rows = [*PLAIN[:2], *odd, *PLAIN[2:]]
    path = factories.write_text(tmp_path / "odd.csv", _text(rows, newline, blank=True))
    server, python = _both(postgres_url, tmp_path, path, skip, monkeypatch)
    assert server == python
    # The server path left only the odd rows to Python; four of them it staged
    # itself (s10's repeated key, s17's unknown customer, the repeated s1, s22's
    # inner space), as the Python path does: plainly valid, refused later or not.
    assert sum(judged_in_python) == (len(ODD) - 4) + len(rows)


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text.replace("two.example", "two\x00example"),
        lambda text: text.replace("three.example", "three\rexample"),
        lambda text: text + '"s9,k1,never closed\n',
        lambda text: text.replace("four.example", "\\."),
        lambda text: text.replace("one.example", "one.example\udcff"),
        # a quote inside an unquoted value is data to Python's csv, so counting
        # quotes misjudges where records end: Python finds out, and reads it all
        lambda text: text.replace("one.example", 'one"x.example').replace("two.", '"two.'),
    ],
)
def test_files_postgres_cannot_take_get_the_python_answer(
    postgres_url: str, tmp_path: Path, damage: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    path = tmp_path / "damaged.csv"
    path.write_bytes(damage(_text(PLAIN)).encode("utf-8", "surrogateescape"))
    server, python = _both(postgres_url, tmp_path, path, False, monkeypatch)
    assert server == python


def test_a_file_quoting_every_cell_takes_the_ordinary_path(
    postgres_url: str, tmp_path: Path, judged_in_python: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(serverread, "MAX_QUOTED_LINES", 2)
    quoted = "".join(",".join(f'"{c}"' for c in row) + "\n" for row in [HEADER, *PLAIN])
    path = factories.write_text(tmp_path / "quoted.csv", quoted)
    server, python = _both(postgres_url, tmp_path, path, False, monkeypatch)
    assert server == python
    assert server[0] == (4, 4, 0, 0, 0)
    assert sum(judged_in_python) == 2 * len(PLAIN)  # Python judged every row both times
