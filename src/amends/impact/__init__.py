"""Who is hit: the sites and customers an incident affects.

A site is affected when it uses a failing component — or one that depends on
it, transitively — and was live at some moment of that component's failure
window. Windows come from the incident's component-status history (for a
maintenance not yet started: its planned window). Everything that touches
sites or customers is set-based SQL; Python only handles the few windows.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    exists,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from amends.catalog import service as catalog_service
from amends.catalog.models import CHANNELS, Component, Customer, Site, SiteComponent, SiteState
from amends.db import analyze, in_table_order, tune_for_bulk, utcnow
from amends.incidents import lifecycle
from amends.incidents import service as incident_service
from amends.incidents.models import Incident, IncidentKind, IncidentStatus

LIVE_STATES = (SiteState.active, SiteState.published)


@dataclass(frozen=True)
class Window:
    """Component ``component_id`` was failing from ``start`` until ``end``."""

    component_id: int
    start: dt.datetime
    end: dt.datetime


class ImpactSummary(BaseModel):
    incident_id: int
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    ongoing: bool
    sites: int
    customers: int
    by_component: dict[str, int]
    by_tier: dict[str, int]
    by_locale: dict[str, int]
    by_channel: dict[str, int]


def failure_windows(
    *, session: Session, incident: Incident, now: dt.datetime | None = None
) -> list[Window]:
    """Each failing component's windows, spread to its dependents, merged."""
    now = now or utcnow()
    direct = _direct_windows(session, incident, now)
    spread: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for component_id, spans in direct.items():
        for dependent in catalog_service.dependency_closure(
            session=session, component_ids=[component_id]
        ):
            spread.setdefault(dependent, []).extend(spans)
    return [
        Window(component_id, start, end)
        for component_id, spans in sorted(spread.items())
        for start, end in _merge(spans)
    ]


def _direct_windows(
    session: Session, incident: Incident, now: dt.datetime
) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    if incident.kind is IncidentKind.maintenance and incident.status is IncidentStatus.scheduled:
        assert incident.scheduled_until is not None
        return {
            link.component_id: [(incident.started_at, incident.scheduled_until)]
            for link in incident.components
        }
    close = incident.resolved_at or now
    opened: dict[int, dt.datetime] = {}
    windows: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for change in incident_service.status_changes(session=session, incident_id=incident.id):
        failing = change.status in lifecycle.FAILING
        if failing and change.component_id not in opened:
            opened[change.component_id] = change.at
        elif not failing and change.component_id in opened:
            start = opened.pop(change.component_id)
            windows.setdefault(change.component_id, []).append((start, change.at))
    for component_id, start in opened.items():
        windows.setdefault(component_id, []).append((start, max(start, close)))
    return windows


def _merge(
    spans: list[tuple[dt.datetime, dt.datetime]],
) -> list[tuple[dt.datetime, dt.datetime]]:
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _hit(windows: list[Window], *, in_site_order: bool = False) -> ColumnElement[bool]:
    """A site-component link caught by a window, while the site was live.

    Windows sharing their times (the usual case: one outage spread to its
    dependents) become one ``component_id IN (...)`` test, not an OR per
    component, which the planners turn into a single scan. ``in_site_order``
    asks for that scan in site order, for queries that group by site.
    """
    component: ColumnElement[int] = SiteComponent.component_id
    if in_site_order:
        component = in_table_order(component)
    by_span: dict[tuple[dt.datetime, dt.datetime], list[int]] = {}
    for w in windows:
        by_span.setdefault((w.start, w.end), []).append(w.component_id)
    caught = [
        and_(
            component.in_(sorted(ids)),
            Site.service_started_at < end,
            or_(Site.service_ended_at.is_(None), Site.service_ended_at > start),
        )
        for (start, end), ids in sorted(by_span.items())
    ]
    was_live = or_(Site.state.in_(LIVE_STATES), Site.service_ended_at.is_not(None))
    return and_(or_(*caught) if caught else false(), was_live)


def affected_sites(windows: list[Window]) -> Select[tuple[int, int]]:
    """SELECT of (site_id, customer_id), one row per affected site.

    Downstream code (the delivery ledger, credits) inserts from this select
    directly, so the affected set never passes through Python.
    """
    return (
        select(Site.id.label("site_id"), Site.customer_id.label("customer_id"))
        .join(SiteComponent, SiteComponent.site_id == Site.id)
        .where(_hit(windows))
        .distinct()
    )


def caught_links(windows: list[Window], *columns: Any) -> Select[Any]:
    """SELECT of ``columns`` over every (site, component) link the windows catch.

    For steps that need more than the affected set — credits group these per
    site to find the worst component a site was hit through — without
    repeating the rule of who counts as hit.
    """
    return (
        select(*columns)
        .select_from(Site)
        .join(SiteComponent, SiteComponent.site_id == Site.id)
        .where(_hit(windows))
    )


def caught_sites(
    windows: list[Window], *columns: Any, lowest: int | None = None, below: int | None = None
) -> Select[Any]:
    """SELECT of ``columns`` of ``sites``, one row per affected site, by a semi-join;
    with ``lowest``/``below``, only site ids in ``lowest <= id < below``.

    For steps that need each affected site once and nothing about how it was
    hit (a flat credit): the caught links are only tested for membership —
    ``sites.id IN (SELECT site_id … WHERE component_id IN …)`` per window
    span — so nothing joins, multiplies the sites by their links and
    de-duplicates them again. ``IN`` rather than a correlated ``EXISTS``:
    PostgreSQL plans both as the same hashed semi-join, while SQLite runs
    ``EXISTS`` as up to one index probe per failing component per site and
    ``IN`` as one pass building a set — half the time at 2 M sites
    (docs/benchmarks.md, credits). Same rule as :func:`_hit`. The id range
    is written on both sides: PostgreSQL carries equalities across a
    semi-join, not ranges, and would otherwise read every caught link per batch.
    """
    linked = []
    within = []
    if lowest is not None:
        linked.append(SiteComponent.site_id >= lowest)
        within.append(Site.id >= lowest)
    if below is not None:
        linked.append(SiteComponent.site_id < below)
        within.append(Site.id < below)
    by_span: dict[tuple[dt.datetime, dt.datetime], list[int]] = {}
    for w in windows:
        by_span.setdefault((w.start, w.end), []).append(w.component_id)
    caught = [
        and_(
            Site.service_started_at < end,
            or_(Site.service_ended_at.is_(None), Site.service_ended_at > start),
            Site.id.in_(
                select(SiteComponent.site_id).where(
                    SiteComponent.component_id.in_(sorted(ids)), *linked
                )
            ),
        )
        for (start, end), ids in sorted(by_span.items())
    ]
    was_live = or_(Site.state.in_(LIVE_STATES), Site.service_ended_at.is_not(None))
    hit = or_(*caught) if caught else false()
    return select(*columns).select_from(Site).where(hit, was_live, *within)


MASK_BITS = 62  # components per mask column: sums of distinct bits stay in a signed BIGINT


def _masks(windows: list[Window]) -> list[list[int]]:
    """The failing component ids, in chunks of MASK_BITS: chunk n is column mask_n."""
    ids = sorted({w.component_id for w in windows})
    return [ids[i : i + MASK_BITS] for i in range(0, len(ids), MASK_BITS)]


def _affected_with_masks(windows: list[Window]) -> Select[Any]:
    """One row per affected site: (site_id, customer_id, mask_0, …), where bit
    k of mask_n says the site was hit through component ``_masks()[n][k]``.

    Why masks: at 5 M customers the caught site–component links are ~16 M
    rows; writing them to a temporary table cost more than finding them.
    Grouping them per site on the way in writes a third as many rows, and the
    counts by component come from a GROUP BY over a handful of mask values
    (docs/benchmarks.md). A sum of distinct powers of two is a bitwise OR, and
    works the same on SQLite and PostgreSQL.
    """
    masks = [
        func.sum(
            case(
                {cid: 1 << k for k, cid in enumerate(chunk)},
                value=SiteComponent.component_id,
                else_=0,
            )
        ).label(f"mask_{n}")
        for n, chunk in enumerate(_masks(windows))
    ]
    return (
        select(
            SiteComponent.site_id.label("site_id"),
            func.min(Site.customer_id).label("customer_id"),
            *masks,
        )
        .join(Site, Site.id == SiteComponent.site_id)
        .where(_hit(windows, in_site_order=True))
        .group_by(SiteComponent.site_id)
    )


@contextmanager
def _materialised(session: Session, windows: list[Window]) -> Iterator[Table]:
    """The affected sites with their masks in a temporary table, read three times."""
    name = f"impact_{uuid.uuid4().hex[:12]}"
    tune_for_bulk(session.connection())  # millions of rows: hash, don't spill
    create = _affected_with_masks(windows).into(name, temporary=True)
    session.execute(create)
    table = create.table
    analyze(session.connection(), table)
    try:
        yield table
    finally:
        table.drop(session.connection())


def summarize(
    *, session: Session, incident: Incident, now: dt.datetime | None = None
) -> ImpactSummary:
    """Counts an operator needs in the first minutes: how many, where, how to reach them."""
    now = now or utcnow()
    windows = failure_windows(session=session, incident=incident, now=now)
    return _counted(session, windows, incident.id, incident.resolved_at is None)


def preview(
    *, session: Session, component_keys: list[str], now: dt.datetime | None = None
) -> ImpactSummary:
    """Who would be hit if these components failed now — before any incident
    exists (the console shows it while the operator picks components).
    ``incident_id`` is 0: there is no incident yet."""
    now = now or utcnow()
    found = catalog_service.components_by_key(session=session, keys=component_keys)
    closure = catalog_service.dependency_closure(
        session=session, component_ids=[c.id for c in found.values()]
    )
    windows = [Window(component_id, now, now) for component_id in sorted(closure)]
    return _counted(session, windows, 0, True)


def _counted(
    session: Session, windows: list[Window], incident_id: int, ongoing: bool
) -> ImpactSummary:
    if not windows:
        empty = (0, {}, {}, dict.fromkeys([*CHANNELS, "unreachable"], 0))
        return _summary(incident_id, ongoing, windows, 0, {}, empty)
    with _materialised(session, windows) as hit:
        sites = session.scalar(select(func.count()).select_from(hit)) or 0
        by_component = _by_component(session, hit, _masks(windows))
        counts = _customer_counts(session, hit)
    return _summary(incident_id, ongoing, windows, sites, by_component, counts)


def _summary(
    incident_id: int,
    ongoing: bool,
    windows: list[Window],
    sites: int,
    by_component: dict[str, int],
    counts: tuple[int, dict[str, int], dict[str, int], dict[str, int]],
) -> ImpactSummary:
    customers, by_tier, by_locale, by_channel = counts
    return ImpactSummary(
        incident_id=incident_id,
        window_start=min((w.start for w in windows), default=None),
        window_end=max((w.end for w in windows), default=None),
        ongoing=ongoing,
        sites=sites,
        customers=customers,
        by_component=by_component,
        by_tier=by_tier,
        by_locale=by_locale,
        by_channel=by_channel,
    )


def _by_component(session: Session, hit: Table, chunks: list[list[int]]) -> dict[str, int]:
    """Sites per component, decoded from the counts of each mask combination."""
    columns = [hit.c[f"mask_{n}"] for n in range(len(chunks))]
    per_id: dict[int, int] = {}
    for *masks, count in session.execute(select(*columns, func.count()).group_by(*columns)):
        for chunk, mask in zip(chunks, masks, strict=True):
            for k, component_id in enumerate(chunk):
                if int(mask) >> k & 1:
                    per_id[component_id] = per_id.get(component_id, 0) + count
    keys = dict(
        session.execute(select(Component.id, Component.key).where(Component.id.in_(per_id))).all()
    )
    return {keys[i]: n for i, n in sorted(per_id.items(), key=lambda item: keys[item[0]])}


def _reachable(channel: str):  # type: ignore[no-untyped-def]
    address = Customer.email if channel == "email" else Customer.phone
    return and_(
        getattr(Customer, f"notify_{channel}"),
        ~getattr(Customer, f"opt_out_{channel}"),
        address.is_not(None),
    )


def _customer_counts(
    session: Session, hit: Table
) -> tuple[int, dict[str, int], dict[str, int], dict[str, int]]:
    """One GROUP BY over the affected customers; the few groups are folded here."""
    flags = [case((_reachable(c), 1), else_=0).label(c) for c in CHANNELS]
    affected = select(hit.c.customer_id).scalar_subquery()
    rows = session.execute(
        select(Customer.tier, Customer.locale, *flags, func.count())
        .where(Customer.id.in_(affected))
        .group_by(Customer.tier, Customer.locale, *flags)
    ).all()
    total = 0
    by_tier: dict[str, int] = {}
    by_locale: dict[str, int] = {}
    by_channel: dict[str, int] = dict.fromkeys([*CHANNELS, "unreachable"], 0)
    for tier, locale, *reach, count in rows:
        total += count
        by_tier[tier] = by_tier.get(tier, 0) + count
        by_locale[locale] = by_locale.get(locale, 0) + count
        for channel, flag in zip(CHANNELS, reach, strict=True):
            by_channel[channel] += count * flag
        if not any(reach):
            by_channel["unreachable"] += count
    return total, dict(sorted(by_tier.items())), dict(sorted(by_locale.items())), by_channel


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


def affected_customers(windows: list[Window]) -> Select[tuple[int]]:
    """SELECT of the distinct ids of customers with at least one affected site.

    The delivery ledger inserts from it: one notice per customer, however
    many of their sites were hit.
    """
    return (
        select(Site.customer_id.label("customer_id"))
        .join(SiteComponent, SiteComponent.site_id == Site.id)
        .where(_hit(windows))
        .distinct()
    )


def affected_customers_between(
    windows: list[Window], lowest: int | None, below: int | None
) -> Select[tuple[int]]:
    """:func:`affected_customers` for customer ids ``lowest <= id < below``,
    driven by the sites' customer index: a slice of a few thousand customers
    reads their sites only, instead of every hit site (3.7 s at 1 M customers
    on SQLite when the range is only a filter on the whole set)."""
    caught = exists().where(SiteComponent.site_id == Site.id, _hit(windows))
    query = select(Site.customer_id.label("customer_id")).where(caught)
    if lowest is not None:
        query = query.where(Site.customer_id >= lowest)
    if below is not None:
        query = query.where(Site.customer_id < below)
    return query.distinct()


def affected_domains(windows: list[Window], customer_ids: list[int]) -> Select[tuple[int, str]]:
    """SELECT of (customer_id, domain) for the affected sites of these customers,
    in domain order: one query per batch of messages, for personalising them.
    Driven by the customer index (a batch is ~1,000 customers, not millions)."""
    caught = exists().where(SiteComponent.site_id == Site.id, _hit(windows))
    return (
        select(Site.customer_id, Site.domain)
        .where(Site.customer_id.in_(customer_ids), caught)
        .order_by(Site.customer_id, Site.domain)
    )


def some_affected_customers(
    *, session: Session, incident: Incident, limit: int = 50
) -> list[tuple[int, str, str]]:
    """(id, name, locale) of the first few affected customers, for picking one to preview."""
    windows = failure_windows(session=session, incident=incident)
    if not windows:
        return []
    ids = affected_customers(windows).subquery()
    rows = session.execute(
        select(Customer.id, Customer.name, Customer.locale)
        .where(Customer.id.in_(select(ids.c[0])))
        .order_by(Customer.id)
        .limit(limit)
    )
    return [(i, name, locale) for i, name, locale in rows]
