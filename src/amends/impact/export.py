"""Every affected site as a file: ``amends impact --export`` and the API's export.

Separate from the selection (:mod:`amends.impact`) because it is a format, not
a rule: one row per affected site with its customer's contact details,
streamed in batches as CSV or JSON Lines, so the file can be millions of rows
without holding them in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from typing import Literal, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from amends.catalog.models import Component, Customer, Site, SiteComponent
from amends.db import utcnow
from amends.impact import affected_sites, failure_windows
from amends.incidents.models import Incident

EXPORT_FIELDS = (
    "site_external_id",
    "domain",
    "plan",
    "state",
    "customer_external_id",
    "customer_name",
    "email",
    "phone",
    "locale",
    "timezone",
    "tier",
    "components",
)


def export(
    *,
    session: Session,
    incident: Incident,
    out: TextIO,
    fmt: Literal["csv", "jsonl"] = "csv",
    now: dt.datetime | None = None,
    batch: int = 10_000,
) -> int:
    """Write one row per affected site, streamed; returns how many were written."""
    windows = failure_windows(session=session, incident=incident, now=now or utcnow())
    component_ids = sorted({w.component_id for w in windows})
    used = (
        select(func.aggregate_strings(Component.key, ";"))
        .select_from(SiteComponent)
        .join(Component, Component.id == SiteComponent.component_id)
        .where(SiteComponent.site_id == Site.id, SiteComponent.component_id.in_(component_ids))
        .scalar_subquery()
    )
    hit = affected_sites(windows).subquery()
    query = (
        select(
            Site.external_id,
            Site.domain,
            Site.plan,
            Site.state,
            Customer.external_id,
            Customer.name,
            Customer.email,
            Customer.phone,
            Customer.locale,
            Customer.timezone,
            Customer.tier,
            used,
        )
        .join(hit, hit.c.site_id == Site.id)
        .join(Customer, Customer.id == Site.customer_id)
        .order_by(Site.external_id)
    )
    rows = session.execute(query.execution_options(yield_per=batch))
    return _write(out, fmt, (_plain(row) for row in rows))


def _plain(row: tuple[object, ...]) -> dict[str, object]:
    values = dict(zip(EXPORT_FIELDS, row, strict=True))
    values["state"] = str(values["state"])
    values["components"] = ";".join(sorted(str(values["components"] or "").split(";")))
    return values


def _write(out: TextIO, fmt: str, rows: Iterator[dict[str, object]]) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
        return count
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
