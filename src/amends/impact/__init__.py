"""Who is hit: the sites and customers an incident affects.

A site is affected when it uses a failing component — or one that depends on
it, transitively — and was live at some moment of that component's failure
window. Windows come from the incident's component-status history (for a
maintenance not yet started: its planned window). Everything that touches
sites or customers is set-based SQL; Python only handles the few windows.

This module is the one rule of who is hit: it hands out SELECTs that the
delivery ledger, credits and call lists insert from, so the affected set never
passes through Python. What is built on that rule lives beside it: the counts
an operator reads (:mod:`amends.impact.summary`) and the list of every
affected site as a file (:mod:`amends.impact.export`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from amends.catalog import service as catalog_service
from amends.catalog.models import Customer, Site, SiteComponent, SiteState
from amends.db import in_table_order, utcnow
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


def hit_by(windows: list[Window], *, in_site_order: bool = False) -> ColumnElement[bool]:
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
        .where(hit_by(windows))
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
        .where(hit_by(windows))
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
    (docs/benchmarks.md, credits). Same rule as :func:`hit_by`. The id range
    is written on both sides: PostgreSQL carries equalities across a
    semi-join, not ranges, and would otherwise read every caught link per batch.
    """
    within = []
    if lowest is not None:
        within.append(Site.id >= lowest)
    if below is not None:
        within.append(Site.id < below)
    hit = caught_through(windows, None, lowest=lowest, below=below)
    was_live = or_(Site.state.in_(LIVE_STATES), Site.service_ended_at.is_not(None))
    return select(*columns).select_from(Site).where(hit, was_live, *within)


def caught_through(
    windows: list[Window],
    components: set[int] | None,
    *,
    lowest: int | None = None,
    below: int | None = None,
) -> ColumnElement[bool]:
    """Whether a site was caught through one of ``components`` (None: any), as
    semi-joins (see :func:`caught_sites`): a condition on ``sites`` alone, so a
    policy can grade sites by the components that hit them (a ``CASE`` of
    these, largest share first) without joining the links."""
    linked = []
    if lowest is not None:
        linked.append(SiteComponent.site_id >= lowest)
    if below is not None:
        linked.append(SiteComponent.site_id < below)
    by_span: dict[tuple[dt.datetime, dt.datetime], list[int]] = {}
    for w in windows:
        if components is None or w.component_id in components:
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
    return or_(*caught) if caught else false()


def affected_customers(windows: list[Window]) -> Select[tuple[int]]:
    """SELECT of the distinct ids of customers with at least one affected site.

    The delivery ledger inserts from it: one notice per customer, however
    many of their sites were hit.
    """
    return (
        select(Site.customer_id.label("customer_id"))
        .join(SiteComponent, SiteComponent.site_id == Site.id)
        .where(hit_by(windows))
        .distinct()
    )


def affected_customers_between(
    windows: list[Window], lowest: int | None, below: int | None
) -> Select[tuple[int]]:
    """:func:`affected_customers` for customer ids ``lowest <= id < below``,
    driven by the sites' customer index: a slice of a few thousand customers
    reads their sites only, instead of every hit site (3.7 s at 1 M customers
    on SQLite when the range is only a filter on the whole set)."""
    caught = exists().where(SiteComponent.site_id == Site.id, hit_by(windows))
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
    caught = exists().where(SiteComponent.site_id == Site.id, hit_by(windows))
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
