"""Small builders for test data, through the real services."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import itertools
import json
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from amends import flows
from amends.catalog import importer
from amends.catalog import service as catalog_service
from amends.catalog.models import Customer, Site, SiteComponent, SiteState
from amends.catalog.records import CustomerRecord
from amends.db import make_engine, unit_of_work
from amends.incidents.models import ComponentStatus
from amends.models import metadata

T0 = dt.datetime(2012, 9, 10, 17, 25, tzinfo=dt.UTC)
_ids = itertools.count(1)


def hosting_catalog(session: Session) -> None:
    """The 2012 provider: web hosting and e-mail need DNS; the builder needs hosting."""
    catalog_service.save_component(session=session, key="dns", name="DNS", group="Core")
    catalog_service.save_component(session=session, key="domains", name="Domains", group="Core")
    catalog_service.save_component(
        session=session, key="web-hosting", name="Web hosting", depends_on=["dns"]
    )
    catalog_service.save_component(session=session, key="email", name="E-mail", depends_on=["dns"])
    catalog_service.save_component(
        session=session, key="website-builder", name="Website builder", depends_on=["web-hosting"]
    )


def customer(session: Session, **overrides: object) -> Customer:
    n = next(_ids)
    fields: dict[str, object] = {
        "external_id": f"cust-{n}",
        "name": f"Customer {n}",
        "email": f"c{n}@example.com",
        "locale": "es",
        "tier": "standard",
    }
    fields.update(overrides)
    return catalog_service.upsert_customer(session=session, record=CustomerRecord(**fields))


def site(
    session: Session,
    owner: Customer,
    components: list[str],
    *,
    state: SiteState = SiteState.active,
    started: dt.datetime = T0 - dt.timedelta(days=365),
    ended: dt.datetime | None = None,
    price: int = 999,
) -> Site:
    n = next(_ids)
    found = catalog_service.components_by_key(session=session, keys=components)
    row = Site(
        external_id=f"site-{n}",
        customer_id=owner.id,
        domain=f"site{n}.example",
        plan="basic",
        monthly_price_minor=price,
        currency="EUR",
        state=state,
        service_started_at=started,
        service_ended_at=ended,
    )
    session.add(row)
    session.flush()
    session.add_all(SiteComponent(site_id=row.id, component_id=c.id) for c in found.values())
    session.flush()
    return row


# -- import files and database state ----------------------------------------

CUSTOMER_HEADER = (
    "external_id", "name", "email", "phone", "locale", "timezone", "tier", "channels", "opt_out",
)  # fmt: skip


def dns_down_for_ana_and_bob(session: Session) -> None:
    """Two affected customers, Ana (Spanish; e-mail and SMS, hit through DNS)
    and Bob (English; e-mail, hit through e-mail's dependency on DNS), and
    incident 1 open with DNS down — what the drafts' API and CLI tests share."""
    hosting_catalog(session)
    ana = customer(
        session, external_id="ana", name="Ana Ruiz", locale="es", phone="+34600000001",
        channels=["email", "sms"],
    )  # fmt: skip
    site(session, ana, ["dns"])
    bob = customer(session, external_id="bob", name="Bob Lee", locale="en")
    site(session, bob, ["email"])
    flows.open_incident(
        session=session, title="DNS down", components={"dns": ComponentStatus.major_outage},
        notify=False,
    )  # fmt: skip


def run_import(
    sessions: sessionmaker[Session], kind: str, path: Path, **options: Any
) -> importer.ImportResult:
    """One import as its own unit of work, as the CLI runs it."""
    do = importer.import_customers if kind == "customers" else importer.import_sites
    with unit_of_work(sessions) as session:
        return do(session=session, path=path, **options)


def counts(result: importer.ImportResult) -> tuple[int, int, int, int, int]:
    """(read, inserted, updated, unchanged, rejected)"""
    return result.read, result.inserted, result.updated, result.unchanged, result.rejected


def write_text(path: Path, content: str, *, gz: bool = False, bom: bool = False) -> Path:
    """``content`` as UTF-8 (with a BOM if asked), gzip'd when ``gz``."""
    data = (("\ufeff" if bom else "") + content).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def csv_line(cells: Sequence[object], newline: str = "\n") -> str:
    """One CSV record, quoted only where needed. The csv module leaves a lone
    ``\r`` unquoted when the line ends with ``\n`` (and a reader then ends the
    record there), so a row holding one is quoted throughout."""
    out = io.StringIO()
    values = ["" if v is None else v for v in cells]
    carriage = any("\r" in str(v) for v in values)
    quoting = csv.QUOTE_ALL if carriage else csv.QUOTE_MINIMAL
    csv.writer(out, lineterminator=newline, quoting=quoting).writerow(values)
    return out.getvalue()


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]], newline: str = "\n") -> str:
    """CSV as a spreadsheet writes it: the header, then a record a row."""
    return "".join(csv_line(row, newline) for row in [header, *rows])


def jsonl_text(records: Iterable[Mapping[str, Any] | str]) -> str:
    """One JSON object per line; a str is written as it is (a broken line)."""
    return "".join(
        (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records
    )


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: "nothing changed" is equality."""
    with engine.connect() as conn:
        return {
            table.name: sorted((tuple(r) for r in conn.execute(select(table))), key=repr)
            for table in metadata.sorted_tables
        }


def stored_customers(engine: Engine) -> dict[str, dict[str, Any]]:
    """Customers by external id, as amends reads them back."""
    from amends.catalog.models import Customer

    with Session(engine) as session:
        return {
            c.external_id: {
                "name": c.name, "email": c.email, "phone": c.phone, "locale": c.locale,
                "timezone": c.timezone, "tier": c.tier, "channels": c.channels(),
                "opt_out": c.opted_out(),
            }
            for c in session.scalars(select(Customer))
        }  # fmt: skip


def stored_sites(engine: Engine) -> dict[str, dict[str, Any]]:
    """Sites by external id, with their customer's external id and component keys."""
    from amends.catalog.models import Customer

    with Session(engine) as session:
        owners = {c.id: c.external_id for c in session.scalars(select(Customer))}
        return {
            s.external_id: {
                "customer": owners[s.customer_id], "domain": s.domain, "plan": s.plan,
                "monthly_price_minor": s.monthly_price_minor, "currency": s.currency,
                "state": s.state.value, "components": [c.key for c in s.components],
                "started_at": s.service_started_at, "ended_at": s.service_ended_at,
            }
            for s in session.scalars(select(Site))
        }  # fmt: skip


def fresh_database(url: str, template: Path, directory: Path) -> str:
    """An empty migrated database for one hypothesis example: a new copy of the
    SQLite template, or the PostgreSQL test database emptied."""
    if url.startswith("sqlite"):
        path = directory / f"{uuid.uuid4().hex}.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    engine = make_engine(url)
    empty_postgres(engine)
    engine.dispose()
    return url


def empty_postgres(engine: Engine) -> None:
    """Every amends table emptied and its ids restarted, for the next test.

    ``DELETE`` (children first) and ``setval`` rather than ``TRUNCATE … RESTART
    IDENTITY``: on tables of a few rows TRUNCATE costs ~150 ms (it gives every
    table a new file), DELETE ~15 ms — paid once per PostgreSQL test.
    """
    tables = list(reversed(metadata.sorted_tables))
    with engine.begin() as conn:
        for table in tables:
            conn.execute(text(f'DELETE FROM "{table.name}"'))
        conn.execute(  # the sequences these tables own (serial and identity columns)
            text(
                "SELECT setval(s.oid, 1, false) FROM pg_class s"
                " JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')"
                " JOIN pg_class t ON t.oid = d.refobjid"
                " WHERE s.relkind = 'S' AND t.relname = ANY(:names)"
            ),
            {"names": [t.name for t in tables]},
        )
