"""The bulk importer, on SQLite and PostgreSQL: formats, upserts, opt-outs,
atomicity, the rejects report and problems with a whole file. (Worker
processes: test_import_workers.py; the command: test_import_cli.py; generated
files: test_import_properties.py.)"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from amends.catalog import importer
from amends.catalog import service as catalog_service
from amends.db import unit_of_work
from amends.errors import ImportProblem, ImportRejected
from amends.models import metadata
from tests.factories import (
    CUSTOMER_HEADER,
    counts,
    csv_text,
    hosting_catalog,
    jsonl_text,
    read_csv,
    snapshot,
    stored_customers,
    stored_sites,
    write_text,
)
from tests.factories import (
    run_import as run,
)

UTC = dt.UTC
CUSTOMERS: list[dict[str, str]] = [
    {"external_id": "C1", "name": "Lucía Núñez", "email": "lucia@example.es",
     "phone": "+34 612 34 56 78", "locale": "es", "timezone": "Europe/Madrid",
     "tier": "premium", "channels": "email;sms", "opt_out": ""},
    {"external_id": "C2", "name": 'Bo "the" Builder, Jr.', "email": "Bo@Example.COM",
     "phone": "", "locale": "en-GB", "timezone": "America/New_York", "tier": "standard",
     "channels": "email", "opt_out": "voice"},
    {"external_id": "C3", "name": "Cy\nSecond line", "email": "cy@example.com",
     "phone": "+12015550123", "locale": "pt_BR", "timezone": "UTC", "tier": "gold",
     "channels": "voice", "opt_out": ""},
]  # fmt: skip
STORED_CUSTOMERS = {
    "C1": {"name": "Lucía Núñez", "email": "lucia@example.es", "phone": "+34612345678",
           "locale": "es", "timezone": "Europe/Madrid", "tier": "premium",
           "channels": ["email", "sms"], "opt_out": []},
    "C2": {"name": 'Bo "the" Builder, Jr.', "email": "Bo@example.com", "phone": None,
           "locale": "en_GB", "timezone": "America/New_York", "tier": "standard",
           "channels": ["email"], "opt_out": ["voice"]},
    "C3": {"name": "Cy\nSecond line", "email": "cy@example.com", "phone": "+12015550123",
           "locale": "pt_BR", "timezone": "UTC", "tier": "gold", "channels": ["voice"],
           "opt_out": []},
}  # fmt: skip
SITE_HEADER = (
    "external_id", "customer", "domain", "plan", "monthly_price_minor", "monthly_price",
    "currency", "state", "components", "started_at", "ended_at",
)  # fmt: skip
SITES: list[dict[str, str]] = [
    {"external_id": "S1", "customer": "C1", "domain": "lucia.example.es", "plan": "deluxe",
     "monthly_price_minor": "799", "currency": "EUR", "state": "published",
     "components": "dns;web-hosting;email", "started_at": "2011-03-01T00:00:00+01:00"},
    {"external_id": "S2", "customer": "C1", "domain": "tienda.example.es", "plan": "shop",
     "monthly_price": "1200", "currency": "JPY", "components": "web-hosting",
     "started_at": "2012-01-01T09:00:00+09:00"},
    {"external_id": "S3", "customer": "C2", "domain": "bo.example.com", "plan": "basic",
     "monthly_price": "4.250", "currency": "bhd", "state": "cancelled", "components": "",
     "started_at": "2010-05-01T00:00:00Z", "ended_at": "2012-05-01T00:00:00-04:00"},
]  # fmt: skip
STORED_SITES = {
    "S1": {"customer": "C1", "domain": "lucia.example.es", "plan": "deluxe",
           "monthly_price_minor": 799, "currency": "EUR", "state": "published",
           "components": ["dns", "email", "web-hosting"],
           "started_at": dt.datetime(2011, 2, 28, 23, tzinfo=UTC), "ended_at": None},
    "S2": {"customer": "C1", "domain": "tienda.example.es", "plan": "shop",
           "monthly_price_minor": 1200, "currency": "JPY", "state": "active",
           "components": ["web-hosting"],
           "started_at": dt.datetime(2012, 1, 1, tzinfo=UTC), "ended_at": None},
    "S3": {"customer": "C2", "domain": "bo.example.com", "plan": "basic",
           "monthly_price_minor": 4250, "currency": "BHD", "state": "cancelled",
           "components": [], "started_at": dt.datetime(2010, 5, 1, tzinfo=UTC),
           "ended_at": dt.datetime(2012, 5, 1, 4, tzinfo=UTC)},
}  # fmt: skip


def write(path: Path, header: tuple[str, ...], rows: list[dict[str, str]], **kw: Any) -> Path:
    """Rows as CSV or JSONL (by the name; ``.gz`` compressed). In JSONL the
    ';'-lists become JSON lists and empty values are left out."""
    gz = path.suffix == ".gz"
    if ".jsonl" in path.suffixes:
        lists = {"channels", "opt_out", "components"}
        records = [
            {k: (v.split(";") if v else []) if k in lists else v for k, v in row.items()
             if v or k in lists}
            for row in rows
        ]  # fmt: skip
        return write_text(path, jsonl_text(records), gz=gz)
    content = csv_text(header, ([row.get(k, "") for k in header] for row in rows), **kw)
    return write_text(path, content, gz=gz, bom=kw.get("newline") == "\r\n")


@pytest.fixture
def catalog(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with unit_of_work(sessions) as session:
        hosting_catalog(session)
    return sessions


@pytest.fixture
def customers(catalog: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    run(catalog, "customers", write(tmp_path / "base.csv", CUSTOMER_HEADER, CUSTOMERS))
    return catalog


@pytest.mark.parametrize(
    ("name", "newline"),
    [("c.csv", "\n"), ("c.csv.gz", "\r\n"), ("c.jsonl", "\n"), ("c.jsonl.gz", "\n")],
)
def test_customers_read_back_as_written_from_every_format(
    catalog: sessionmaker[Session], engine: Engine, tmp_path: Path, name: str, newline: str
) -> None:
    path = write(tmp_path / name, CUSTOMER_HEADER, CUSTOMERS, newline=newline)
    assert counts(run(catalog, "customers", path)) == (3, 3, 0, 0, 0)
    assert stored_customers(engine) == STORED_CUSTOMERS


@pytest.mark.parametrize("name", ["s.csv", "s.jsonl.gz"])
def test_sites_read_back_as_written(
    customers: sessionmaker[Session], engine: Engine, tmp_path: Path, name: str
) -> None:
    assert counts(run(customers, "sites", write(tmp_path / name, SITE_HEADER, SITES))) == (
        3, 3, 0, 0, 0,
    )  # fmt: skip
    assert stored_sites(engine) == STORED_SITES


@pytest.mark.parametrize(
    ("name", "content", "columns"),
    [("e.csv", "\r\nexternal_id,name\r\n\r\n", ["external_id", "name"]),
     ("e.jsonl", "\n \n", ["record"]), ("e.jsonl.gz", "", ["record"])],
)  # fmt: skip
def test_a_file_without_rows_imports_nothing(
    catalog: sessionmaker[Session], engine: Engine, tmp_path: Path,
    name: str, content: str, columns: list[str],
) -> None:  # fmt: skip
    before = snapshot(engine)
    path = write_text(tmp_path / name, content, gz=name.endswith(".gz"))
    result = run(catalog, "customers", path, skip_invalid=True)
    assert counts(result) == (0, 0, 0, 0, 0)
    assert snapshot(engine) == before
    assert read_csv(Path(str(result.rejects_file))) == [["line", "field", "reason", *columns]]


def test_reimporting_the_same_files_changes_nothing(
    customers: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    sites = write(tmp_path / "s.csv", SITE_HEADER, SITES)
    run(customers, "sites", sites)
    before = snapshot(engine)
    again = run(customers, "customers", tmp_path / "base.csv")
    assert counts(again) == (3, 0, 0, 3, 0)
    assert counts(run(customers, "sites", sites)) == (3, 0, 0, 3, 0)
    assert snapshot(engine) == before  # updated_at untouched too


def _updated_at(engine: Engine, table: str) -> dict[str, dt.datetime]:
    rows = metadata.tables[table]
    with engine.connect() as conn:
        return {x: at for x, at in conn.execute(select(rows.c.external_id, rows.c.updated_at))}


def test_a_changed_customer_counts_as_updated(
    customers: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    before = _updated_at(engine, "customers")
    changed = [CUSTOMERS[0], {**CUSTOMERS[1], "channels": "email;voice", "phone": "+12015550123"}]
    result = run(customers, "customers", write(tmp_path / "c.csv", CUSTOMER_HEADER, changed))
    assert counts(result) == (2, 0, 1, 1, 0)
    after = _updated_at(engine, "customers")
    assert after["C1"] == before["C1"] and after["C3"] == before["C3"]
    assert after["C2"] > before["C2"]
    assert stored_customers(engine)["C2"]["channels"] == ["email", "voice"]


def test_opt_outs_are_never_cleared_by_an_import(
    customers: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    cleared = [{**row, "opt_out": ""} for row in CUSTOMERS]
    result = run(customers, "customers", write(tmp_path / "a.csv", CUSTOMER_HEADER, cleared))
    assert counts(result) == (3, 0, 0, 3, 0)
    no_column = write(tmp_path / "b.csv", CUSTOMER_HEADER[:-1], CUSTOMERS)
    assert counts(run(customers, "customers", no_column)) == (3, 0, 0, 3, 0)
    assert stored_customers(engine)["C2"]["opt_out"] == ["voice"]
    added = [{**CUSTOMERS[1], "opt_out": "email"}]
    assert counts(run(customers, "customers", write(tmp_path / "c.jsonl", (), added))) == (
        1, 0, 1, 0, 0,
    )  # fmt: skip
    assert stored_customers(engine)["C2"]["opt_out"] == ["email", "voice"]
    with unit_of_work(customers) as session:  # only the customer's own choice clears one
        catalog_service.set_opt_out(
            session=session, external_id="C2", channel="voice", opted_out=False
        )
    assert stored_customers(engine)["C2"]["opt_out"] == ["email"]


def test_a_sites_components_are_replaced_by_the_rows(
    customers: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    run(customers, "sites", write(tmp_path / "s.csv", SITE_HEADER, SITES))
    before = _updated_at(engine, "sites")
    rows = [
        {**SITES[0], "components": "domains"},  # only its components change
        {**SITES[1], "components": "web-hosting;dns", "plan": "shop-plus"},
        SITES[2],
    ]
    result = run(customers, "sites", write(tmp_path / "t.csv", SITE_HEADER, rows))
    assert counts(result) == (3, 0, 2, 1, 0)
    stored = stored_sites(engine)
    assert stored["S1"]["components"] == ["domains"]
    assert stored["S2"]["components"] == ["dns", "web-hosting"]
    assert stored["S3"] == STORED_SITES["S3"]
    after = _updated_at(engine, "sites")
    assert after["S1"] > before["S1"] and after["S2"] > before["S2"]
    assert after["S3"] == before["S3"]


CUSTOMER_CASES = [
    ({"email": "lucia.example.es"},
     "email", "not a valid e-mail address: An email address must have an @-sign."),
    ({"phone": "612345678"},
     "phone", "not a phone number in international form (+<country><number>)"),
    ({"phone": "+34 000"}, "phone", "not a valid phone number"),
    ({"locale": "klingon"}, "locale", "unknown locale 'klingon'"),
    ({"timezone": "Europe/Atlantis"},
     "timezone", "unknown time zone 'Europe/Atlantis' (use an IANA name such as Europe/Madrid)"),
    ({"channels": "email;fax"}, "channels", "unknown channel 'fax' (known: email, sms, voice)"),
    ({"channels": "sms", "phone": ""},
     "channels", "channel 'sms' or 'voice' chosen but no phone given"),
    ({"name": ""}, "name", "Field required"),
    ({"name": "A\x00na"}, "name", "contains a NUL character"),
    ({"external_id": "C1"}, "external_id", "external id 'C1' repeats line 2 of this file"),
]  # fmt: skip
SITE_CASES = [
    ({"monthly_price_minor": "-1"},
     "monthly_price_minor", "Input should be greater than or equal to 0"),
    ({"monthly_price_minor": "", "monthly_price": "-7.99"},
     "monthly_price", "monthly_price must not be negative"),
    ({"monthly_price_minor": "", "monthly_price": "7.999"},
     "monthly_price", "7.999 has more than 2 decimals for EUR"),
    ({"currency": "EURO"}, "currency", "unknown ISO 4217 currency 'EURO'"),
    ({"components": "dns;ftp"}, "components", "no component 'ftp'"),
    ({"customer": "C9"}, "customer", "no customer 'C9' (import customers first)"),
    ({"started_at": "2011-03-01 00:00"},
     "started_at", "time '2011-03-01 00:00' has no offset (write e.g. 2012-09-10T17:25:00+00:00)"),
    ({"state": "cancelled"},
     "ended_at", "a cancelled site needs ended_at (when its service stopped)"),
    ({"external_id": "S1"}, "external_id", "external id 'S1' repeats line 2 of this file"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "change", "field", "message"),
    [("customers", *case) for case in CUSTOMER_CASES] + [("sites", *case) for case in SITE_CASES],
    ids=[f"customers-{c[1]}" for c in CUSTOMER_CASES] + [f"sites-{c[1]}" for c in SITE_CASES],
)
def test_one_bad_row_and_nothing_is_imported(
    customers: sessionmaker[Session], engine: Engine, tmp_path: Path,
    kind: str, change: dict[str, str], field: str, message: str,
) -> None:  # fmt: skip
    """The good rows around it (an unchanged one, a change, a new one) are not
    written either."""
    header, rows = (CUSTOMER_HEADER, CUSTOMERS) if kind == "customers" else (SITE_HEADER, SITES)
    if kind == "sites":
        run(customers, "sites", write(tmp_path / "s.csv", header, rows[:2]))
    changed = {**rows[1], "tier": "vip"} if kind == "customers" else {**rows[1], "plan": "new"}
    lines = [rows[0], changed, {**rows[0], "external_id": "N1"}]
    lines.append({**rows[0], "external_id": "N2", **change})  # line 5
    path = write(tmp_path / f"{kind}.csv", header, lines)
    before = snapshot(engine)
    with customers() as session:
        with pytest.raises(ImportRejected) as refused:
            (importer.import_customers if kind == "customers" else importer.import_sites)(
                session=session, path=path
            )
        session.commit()  # whatever the caller then does, nothing was written
    assert refused.value.problems == [ImportProblem(str(path), 5, field, message)]
    assert str(refused.value) == f"{path} line 5, field {field}: {message}; nothing was imported"
    assert snapshot(engine) == before


def test_skip_invalid_imports_the_rest_and_writes_exact_rejects(
    customers: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    rows = [
        {**SITES[0], "components": "dns;ftp"},                               # line 2
        SITES[1],                                                            # line 3
        {**SITES[2], "customer": "C9", "domain": 'x,"y"\nz'},                # lines 4-5
        {**SITES[0], "external_id": "S2", "plan": "dup"},                    # line 6
        {**SITES[0], "external_id": "S4", "monthly_price_minor": "-5", "currency": "XXY"},
        {**SITES[0], "external_id": "S5"},                                   # line 8
    ]  # fmt: skip
    path = write(tmp_path / "sites.csv", SITE_HEADER, rows)
    with (tmp_path / "sites.csv").open("a", encoding="utf-8", newline="") as f:
        f.write("S6,C1,short\n\n")  # line 9: three cells; line 10 blank
    result = run(customers, "sites", path, skip_invalid=True)
    assert counts(result) == (7, 2, 0, 0, 5)
    assert result.rejects_file == str(tmp_path / "sites.csv.rejects.csv")
    assert set(stored_sites(engine)) == {"S2", "S5"}
    cells = [[row.get(k, "") for k in SITE_HEADER] for row in rows]
    assert read_csv(tmp_path / "sites.csv.rejects.csv") == [
        ["line", "field", "reason", *SITE_HEADER],
        ["2", "components", "components: no component 'ftp'", *cells[0]],
        ["4", "customer", "customer: no customer 'C9' (import customers first)", *cells[2]],
        ["6", "external_id", "external_id: external id 'S2' repeats line 3 of this file",
         *cells[3]],
        ["7", "currency;monthly_price_minor",
         "currency: unknown ISO 4217 currency 'XXY'; "
         "monthly_price_minor: Input should be greater than or equal to 0", *cells[4]],
        ["9", "", "3 values, but the header has 11 columns", "S6", "C1", "short"],
    ]  # fmt: skip


def test_skip_invalid_jsonl_rejects_echo_the_json_line(
    catalog: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    lines = [
        json.dumps({"external_id": "C1", "name": "Ana", "email": "ana@example.com"}),
        '{"external_id": "C2", "name": "Bo", ',
        "",
        json.dumps({"external_id": "C3", "name": None, "email": "c@example.com"}),
        json.dumps(["C4"]),
        '{"external_id": "C5", "name": "E", "email": "e@example.com", "price": NaN}',
        json.dumps({"external_id": "C6", "name": "Zoë", "email": "z@example.com", "x": 1}),
    ]
    path = write_text(tmp_path / "c.ndjson", jsonl_text(lines))
    report = tmp_path / "rejects.csv"
    result = run(catalog, "customers", path, skip_invalid=True, rejects_path=report)
    assert counts(result) == (6, 1, 0, 0, 5)
    assert result.rejects_file == str(report)
    assert list(stored_customers(engine)) == ["C1"]
    with pytest.raises(ValueError) as bad_json:
        json.loads(lines[1] + "\n")
    assert read_csv(report) == [
        ["line", "field", "reason", "record"],
        ["2", "", f"not valid JSON: {bad_json.value}", lines[1]],
        ["4", "name", "name: Input should be a valid string", lines[3]],
        ["5", "", "expected a JSON object", lines[4]],
        ["6", "", "not valid JSON: NaN is not a JSON value", lines[5]],
        ["7", "x", "x: unknown field", lines[6]],
    ]


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


GOOD = "external_id,name,email\nC1,Ana,ana@example.com\n"


@pytest.mark.parametrize(
    ("name", "content", "line", "field", "message"),
    [
        ("a.csv", "external_id,name,emial\n", 1, "emial", "unknown column 'emial'"),
        ("b.csv", "external_id,name,name\n", 1, "name", "column 'name' appears twice"),
        ("c.csv", "\nname,email\n", 2, "external_id", "required column 'external_id' is missing"),
        ("d.csv", "\n \n", None, None, "the file is empty: no header line"),
        ("e.csv", GOOD + 'C2,"Bo\n,b@example.com\nC3,Cy,c@example.com\n', 3, None,
         "a quoted value is never closed (the file ends inside it)"),
        ("f.csv", GOOD + 'C2,"Bo"x,b@example.com\n', 3, None,
         "not valid CSV: ',' expected after '\"'"),
        ("g.csv", GOOD * 1 + "C2,Bo\rC3,N\xfa\xf1ez,b@example.com\n", 4, None,
         "the file is not UTF-8 text"),
        ("h.csv.gz", gzip.compress(GOOD.encode())[:-8] + b"garbage!", None, None,
         "cannot read the file: CRC check failed"),
        ("j.csv.gz", gzip.compress(GOOD.encode() * 50)[:40] + b"\xff" * 40, None, None,
         "cannot read the file: Error -3 while decompressing data"),
        ("i.txt", GOOD, None, None, "cannot tell the format from the file name"),
    ],
    ids=["unknown-column", "column-twice", "missing-column", "empty", "unclosed-quote",
         "stray-quote", "not-utf8", "bad-crc", "bad-deflate", "unknown-extension"],
)  # fmt: skip
def test_problems_with_the_whole_file_refuse_it_even_when_skipping(
    catalog: sessionmaker[Session], engine: Engine, tmp_path: Path,
    name: str, content: str | bytes, line: int | None, field: str | None, message: str,
) -> None:  # fmt: skip
    if isinstance(content, str):
        content = content.encode("latin-1" if name == "g.csv" else "utf-8")
    (tmp_path / "in").mkdir()
    path = _bytes(tmp_path / "in" / name, content)
    before = snapshot(engine)
    with pytest.raises(ImportRejected) as refused:
        run(catalog, "customers", path, skip_invalid=True)
    first = refused.value.problems[0]
    assert (first.file, first.line, first.field) == (str(path), line, field)
    assert first.message.startswith(message)
    assert snapshot(engine) == before
    assert list(path.parent.iterdir()) == [path]  # and no rejects report


def test_a_file_that_is_not_utf8_is_refused_at_the_exact_line(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    """The text stream decodes big chunks; the error still names the right line."""
    rows = "".join(f"C{i},Name {i},n{i}@example.com\r\n" for i in range(2, 2000))
    data = ("external_id,name,email\r\n" + rows).encode().replace(b"Name 1500", b"N\xe9me")
    with pytest.raises(ImportRejected) as refused:
        run(catalog, "customers", _bytes(tmp_path / "c.csv.gz", gzip.compress(data)))
    assert refused.value.problems[0].line == 1500


def test_a_rejects_report_that_cannot_be_written_is_refused_first(
    catalog: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    path = write_text(tmp_path / "c.csv", GOOD)
    for report, message in [
        (tmp_path / "missing" / "r.csv", "no such directory"),
        (tmp_path / "." / "c.csv", "would overwrite the file being imported"),
        (path, "would overwrite the file being imported"),
    ]:
        with pytest.raises(ImportRejected, match=message):
            run(catalog, "customers", path, skip_invalid=True, rejects_path=report)
    assert stored_customers(engine) == {}
    assert path.read_text() == GOOD


def test_an_atomic_import_reports_at_most_max_problems(
    catalog: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = "".join(f"C{i},Name,bad-{i}\n" for i in range(10))
    path = write_text(tmp_path / "c.csv", "external_id,name,email\n" + rows)
    with pytest.raises(ImportRejected) as refused:
        run(catalog, "customers", path, max_problems=3)
    assert [p.line for p in refused.value.problems] == [2, 3, 4]
    assert refused.value.hint == "nothing was imported"
