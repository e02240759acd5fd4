"""Property tests of the importer over generated files, on SQLite and PostgreSQL.

Each example writes a file of good rows and broken ones (every kind the
importer must refuse), in CSV or JSONL, maybe gzip'd, with a BOM, CRLF, blank
lines, shuffled columns and names full of quotes, commas, newlines and odd
Unicode. Against an empty database made for the example it checks:

* atomic: one broken row and the import is refused naming exactly the broken
  lines and fields, and the database is exactly as before;
* ``skip_invalid``: exactly the good rows are imported, and the rejects report
  lists exactly the broken ones (line, field, the record as written);
* round trip: what was imported reads back as what was written (normalised);
* idempotence: importing the same file again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from amends.catalog.models import CHANNELS, SiteState
from amends.db import make_engine, session_factory, unit_of_work
from amends.errors import ImportRejected
from tests import factories
from tests.factories import CUSTOMER_HEADER, counts, read_csv, run_import, snapshot

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SITE_HEADER = (
    "external_id", "customer", "domain", "plan", "monthly_price_minor", "monthly_price",
    "currency", "state", "components", "started_at", "ended_at",
)  # fmt: skip
LISTS = {"channels", "opt_out", "components"}


@dataclass
class Row:
    values: dict[str, Any]  # field -> str, list or None (absent)
    expected: dict[str, Any]  # what reads back, for a good row
    fault: str | None = None  # the field a broken row must be rejected for
    line: int = 0
    raw: list[str] | str = field(default_factory=list)


# -- values -----------------------------------------------------------------

odd = st.sampled_from([*"\",;\n\r \t'\\", "\u2028", "\x85", "\ufeff", "ß", "漢", "🙂", "\u200b"])
text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00") | odd, max_size=24
).filter(lambda s: s.strip())
suffixes = st.text("ab,\"';ñ€", max_size=3)
emails = st.tuples(
    st.sampled_from(["ana", "jose.2", "x_y+z", "lucía"]),
    st.sampled_from([("example.com", "example.com"), ("Example.COM", "example.com"),
                     ("correo.es", "correo.es")]),
).map(lambda p: (f"{p[0]}@{p[1][0]}", f"{p[0]}@{p[1][1]}"))  # fmt: skip
_numbers = [phonenumbers.example_number(r) for r in ("ES", "US", "GB", "MX", "JP", "AR", "IN")]
phones = st.sampled_from(
    [
        (phonenumbers.format_number(n, style), phonenumbers.format_number(n, 0))
        for n in _numbers
        for style in (
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        )
    ]
)
locales = st.sampled_from([("en", "en"), ("es", "es"), ("es-MX", "es_MX"), ("pt_BR", "pt_BR")])
plain = st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True)  # what PostgreSQL judges itself
zones = st.sampled_from(["UTC", "Europe/Madrid", "America/Mexico_City", "Asia/Tokyo"])


def as_list(draw: st.DrawFn, names: list[str]) -> list[str] | str:
    """A list field as JSON writes it (a list) or as a ';'/','-separated string."""
    return draw(st.sampled_from([names, ";".join(names), ", ".join(names)]))


@st.composite
def customer(draw: st.DrawFn, n: int) -> Row:
    name = draw(text)
    email, phone = draw(st.none() | emails), draw(st.none() | phones)
    locale, zone = draw(locales), draw(zones)
    tier = draw(st.sampled_from(["standard", "premium", " gold "]))
    reachable = [c for c in CHANNELS if (email if c == "email" else phone)]
    channels = draw(st.lists(st.sampled_from(reachable), unique=True)) if reachable else []
    opt_out = draw(st.lists(st.sampled_from(CHANNELS), unique=True))
    values = {
        "external_id": f"c{n}{draw(suffixes)}", "name": name, "email": email and email[0],
        "phone": phone and phone[0], "locale": locale[0], "timezone": zone, "tier": tier,
        "channels": as_list(draw, channels), "opt_out": as_list(draw, opt_out),
    }  # fmt: skip
    expected = {
        "name": name.strip(), "email": email and email[1], "phone": phone and phone[1],
        "locale": locale[1], "timezone": zone, "tier": tier.strip(),
        "channels": [c for c in CHANNELS if c in channels],
        "opt_out": [c for c in CHANNELS if c in opt_out],
    }  # fmt: skip
    fault = draw(st.sampled_from([None] * 15 + list(CUSTOMER_FAULTS)))
    if fault is not None:
        fault = CUSTOMER_FAULTS[fault](values)
    return Row(values, expected, fault)


def _unreachable(v: dict[str, Any]) -> str:
    v.update(phone=None, channels="sms")
    return "channels"


CUSTOMER_FAULTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "email": lambda v: v.update(email="ana.example.com") or "email",
    "phone": lambda v: v.update(phone="612345678") or "phone",
    "locale": lambda v: v.update(locale="xx-KLINGON") or "locale",
    "timezone": lambda v: v.update(timezone="Mars/Base_Alpha") or "timezone",
    "channel": lambda v: v.update(channels="email;fax", email="a@example.com") or "channels",
    "unreachable": _unreachable,
    "missing": lambda v: v.update(name=None) or "name",
    "nul": lambda v: v.update(name=v["name"].strip() + "\x00") or "name",
    "duplicate": lambda v: "external_id",
}
CURRENCIES = {"EUR": 2, "JPY": 0, "BHD": 3, "usd": 2}
T0 = dt.datetime(2000, 1, 1)
moments = st.tuples(
    st.datetimes(T0, dt.datetime(2020, 1, 1)), st.integers(-14 * 4, 14 * 4), st.booleans()
).map(lambda m: m[0].replace(tzinfo=dt.timezone(dt.timedelta(minutes=15 * m[1]))))


def _iso(moment: dt.datetime, zulu: bool) -> str:
    written = moment.isoformat()
    return written.replace("+00:00", "Z") if zulu else written


@st.composite
def site(draw: st.DrawFn, n: int) -> Row:
    currency = draw(st.sampled_from(sorted(CURRENCIES)))
    digits, minor = CURRENCIES[currency], draw(st.integers(0, 10**7))
    as_decimal = draw(st.booleans())
    price = str(Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))
    state = draw(st.sampled_from([s.value for s in SiteState]))
    started = draw(moments)
    ended = None
    if state == "cancelled" or draw(st.booleans()):
        ended = started + draw(st.timedeltas(dt.timedelta(0), dt.timedelta(days=900)))
    components = draw(st.lists(st.sampled_from(KEYS), unique=True))
    domain, plan = draw(text | plain), draw(text | plain)
    values = {
        "external_id": f"s{n}{draw(suffixes)}", "customer": draw(st.sampled_from(OWNERS)),
        "domain": domain, "plan": plan, "currency": currency,
        "monthly_price_minor": None if as_decimal else str(minor),
        "monthly_price": price if as_decimal else None, "state": state,
        "components": as_list(draw, components), "started_at": _iso(started, draw(st.booleans())),
        "ended_at": ended and _iso(ended, False),
    }  # fmt: skip
    expected = {
        "customer": values["customer"], "domain": domain.strip(), "plan": plan.strip(),
        "monthly_price_minor": minor, "currency": currency.upper(), "state": state,
        "components": sorted(components), "started_at": started.astimezone(dt.UTC),
        "ended_at": ended and ended.astimezone(dt.UTC),
    }  # fmt: skip
    fault = draw(st.sampled_from([None] * 15 + list(SITE_FAULTS)))
    if fault is not None:
        fault = SITE_FAULTS[fault](values)
    return Row(values, expected, fault)


def _negative(v: dict[str, Any]) -> str:
    if v["monthly_price"] is None:
        v["monthly_price_minor"] = "-1"
        return "monthly_price_minor"
    v["monthly_price"] = f"-{Decimal(v['monthly_price']) + 1}"
    return "monthly_price"


def _too_precise(v: dict[str, Any]) -> str:
    digits = CURRENCIES[v["currency"]]
    v.update(monthly_price_minor=None, monthly_price="7." + "0" * digits + "1")
    return "monthly_price"


KEYS = ["dns", "domains", "email", "web-hosting", "website-builder"]
OWNERS = ["k1", "k2", "k3"]
SITE_FAULTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "negative": _negative,
    "too_precise": _too_precise,
    "component": lambda v: v.update(components="dns;ftp") or "components",
    "customer": lambda v: v.update(customer="nobody") or "customer",
    "currency": lambda v: v.update(currency="EURO") or "currency",
    "naive": lambda v: v.update(started_at="2011-03-01T00:00:00") or "started_at",
    "open_cancel": lambda v: v.update(state="cancelled", ended_at=None) or "ended_at",
    "missing": lambda v: v.update(domain=None) or "domain",
    "nul": lambda v: v.update(plan="a\x00b") or "plan",
    "duplicate": lambda v: "external_id",
}


# -- files ------------------------------------------------------------------


def _breaks(written: str) -> int:
    """Line ends as the importer counts them: \\n, \\r\\n and a lone \\r."""
    return written.count("\n") + written.count("\r") - written.count("\r\n")


@st.composite
def import_file(draw: st.DrawFn, kind: str) -> tuple[str, tuple[str, ...], list[Row]]:
    """(format, header, rows); rows carry their line and raw form once rendered."""
    make = customer if kind == "customers" else site
    rows = [draw(make(n)) for n in range(draw(st.integers(0, 10)))]
    good = []
    for row in rows:  # a duplicate repeats the id of an earlier good row
        if row.fault == "external_id":
            if not good:
                row.fault = None
            else:
                row.values["external_id"] = draw(st.sampled_from(good)).values["external_id"]
        if row.fault is None:
            good.append(row)
    fmt = draw(st.sampled_from(["csv", "jsonl"]))
    header = tuple(draw(st.permutations(CUSTOMER_HEADER if kind == "customers" else SITE_HEADER)))
    if kind == "sites" and draw(st.booleans()):
        header = _minor_units_only(header, rows)
    return fmt, header, rows


def _minor_units_only(header: tuple[str, ...], rows: list[Row]) -> tuple[str, ...]:
    """Prices in minor units only, and no ``monthly_price`` column if no row
    needs it: the shape of file PostgreSQL reads itself (catalog.serverread)."""
    for row in rows:
        if row.values["monthly_price"] is not None and row.fault != "monthly_price":
            minor = str(row.expected["monthly_price_minor"])
            row.values.update(monthly_price=None, monthly_price_minor=minor)
    if any(row.values["monthly_price"] is not None for row in rows):
        return header
    return tuple(name for name in header if name != "monthly_price")


def write_file(
    directory: Path, fmt: str, header: tuple[str, ...], rows: list[Row], data: st.DataObject
) -> Path:
    newline = data.draw(st.sampled_from(["\n", "\r\n"])) if fmt == "csv" else "\n"
    written = factories.csv_text(header, [], newline) if fmt == "csv" else ""
    for row in rows:
        if data.draw(st.integers(0, 5)) == 0:
            written += newline  # a blank line: skipped, but counted
        row.line = 1 + _breaks(written)
        if fmt == "csv":
            row.raw = [_cell(row.values.get(k)) for k in header]
            written += factories.csv_line(row.raw, newline)
        else:  # an absent value left out, or written as null
            nulls = data.draw(st.booleans())
            row.raw = json.dumps(
                {k: v for k, v in row.values.items() if nulls or v is not None},
                ensure_ascii=data.draw(st.booleans()),
            )
            written += row.raw + "\n"
    gz, bom = data.draw(st.booleans()), data.draw(st.booleans())
    name = f"{uuid.uuid4().hex}.{fmt}" + (".gz" if gz else "")
    return factories.write_text(directory / name, written, gz=gz, bom=bom)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return ";".join(value) if isinstance(value, list) else value


# -- the properties ---------------------------------------------------------


@pytest.fixture
def fresh(database_url: str, sqlite_template: Path, tmp_path: Path) -> Callable[[], str]:
    return lambda: factories.fresh_database(database_url, sqlite_template, tmp_path)


def _baseline(session: Session) -> None:
    """What is in the database before the import: the catalog and three customers."""
    factories.hosting_catalog(session)
    for owner in OWNERS:
        factories.customer(session, external_id=owner)


def check_import(
    kind: str, url: str, directory: Path, fmt: str, header: tuple[str, ...], rows: list[Row],
    data: st.DataObject,
) -> None:  # fmt: skip
    engine = make_engine(url)
    sessions = session_factory(engine)
    stored = factories.stored_customers if kind == "customers" else factories.stored_sites
    try:
        with unit_of_work(sessions) as session:
            _baseline(session)
        path = write_file(directory, fmt, header, rows, data)
        good = {r.values["external_id"].strip(): r.expected for r in rows if r.fault is None}
        bad = {r.line: r for r in rows if r.fault is not None}
        before, existing = snapshot(engine), stored(engine)

        if bad:  # atomic: refused, naming every broken line found, and nothing written
            with pytest.raises(ImportRejected) as refused:
                run_import(sessions, kind, path)
            found = {(p.line, p.field) for p in refused.value.problems}
            first = {ln: r.fault for ln, r in bad.items() if r.fault not in LATE[kind]}
            late = {ln: r.fault for ln, r in bad.items() if r.fault in LATE[kind]}
            assert found == set((first or late).items())
            assert snapshot(engine) == before

        skip = bool(bad)  # a clean file goes through the default (atomic) path
        result = run_import(sessions, kind, path, skip_invalid=skip)
        assert counts(result) == (len(rows), len(good), 0, 0, len(bad))
        assert stored(engine) == {**existing, **good}
        if skip:
            report = read_csv(Path(str(result.rejects_file)))
            columns = header if fmt == "csv" else ("record",)
            assert report[0] == ["line", "field", "reason", *columns]
            assert [(int(r[0]), r[1]) for r in report[1:]] == [
                (ln, bad[ln].fault) for ln in sorted(bad)
            ]
            raws = [bad[ln].raw if fmt == "csv" else [bad[ln].raw] for ln in sorted(bad)]
            assert [r[3:] for r in report[1:]] == raws

        after = snapshot(engine)
        again = run_import(sessions, kind, path, skip_invalid=skip)
        assert counts(again) == (len(rows), 0, 0, len(good), len(bad))
        assert snapshot(engine) == after  # updated_at untouched
    finally:
        engine.dispose()


LATE = {"customers": {"external_id"}, "sites": {"external_id", "customer"}}
"""Faults found only once every row is valid: checked against the staged set."""


@EXAMPLES
@given(file=import_file("customers"), data=st.data())
def test_customers_import_exactly_the_good_rows(
    fresh: Callable[[], str], tmp_path: Path, file: Any, data: st.DataObject
) -> None:
    check_import("customers", fresh(), tmp_path, *file, data)


@EXAMPLES
@given(file=import_file("sites"), data=st.data())
def test_sites_import_exactly_the_good_rows(
    fresh: Callable[[], str], tmp_path: Path, file: Any, data: st.DataObject
) -> None:
    check_import("sites", fresh(), tmp_path, *file, data)
