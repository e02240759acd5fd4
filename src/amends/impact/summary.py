"""How many an incident hits: the counts an operator reads in the first minutes.

Separate from the selection (:mod:`amends.impact`) because counting has its
own machinery: at millions of customers the affected sites are materialised
once, with a bitmask per site of the components it was hit through, and the
counts by component, tier, locale and channel are a few GROUP BYs over that
table. The selection stays the one rule of who is hit; this module only
counts what it selects.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, Table, and_, case, func, select
from sqlalchemy.orm import Session

from amends.catalog import service as catalog_service
from amends.catalog.models import CHANNELS, Component, Customer, Site, SiteComponent
from amends.db import utcnow
from amends.db.bulk import analyze, planner_without, tune_for_bulk
from amends.impact import Window, failure_windows, hit_by
from amends.incidents.models import Incident


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
        .where(hit_by(windows, in_site_order=True))
        .group_by(SiteComponent.site_id)
    )


@contextmanager
def _materialised(session: Session, windows: list[Window]) -> Iterator[Table]:
    """The affected sites with their masks in a temporary table, read twice.

    PostgreSQL groups the links per site as it reads them in key order (a
    merge join of the two primary keys, then a streamed aggregate) instead of
    hashing 10 M sites and 16 M caught links, which spilled to disk: 14.1 s
    against 22.5 s at 5 M customers (docs/benchmarks.md) — the same order
    SQLite is asked for (``hit_by(in_site_order=True)``).
    """
    name = f"impact_{uuid.uuid4().hex[:12]}"
    conn = session.connection()
    tune_for_bulk(conn)  # the customer counts hash millions of ids: in memory, not on disk
    create = _affected_with_masks(windows).into(name, temporary=True)
    with planner_without(conn, "hashjoin", "hashagg"):
        session.execute(create)
    table = create.table
    analyze(conn, table)
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
        sites, by_component = _by_component(session, hit, _masks(windows))
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


def _by_component(
    session: Session, hit: Table, chunks: list[list[int]]
) -> tuple[int, dict[str, int]]:
    """How many sites, and sites per component, decoded from the counts of each
    mask combination: one pass over the affected sites gives both (a separate
    ``count(*)`` read 5.7 M rows again at 5 M customers)."""
    columns = [hit.c[f"mask_{n}"] for n in range(len(chunks))]
    per_id: dict[int, int] = {}
    sites = 0
    for *masks, count in session.execute(select(*columns, func.count()).group_by(*columns)):
        sites += count
        for chunk, mask in zip(chunks, masks, strict=True):
            for k, component_id in enumerate(chunk):
                if int(mask) >> k & 1:
                    per_id[component_id] = per_id.get(component_id, 0) + count
    keys = dict(
        session.execute(select(Component.id, Component.key).where(Component.id.in_(per_id))).all()
    )
    return sites, {keys[i]: n for i, n in sorted(per_id.items(), key=lambda item: keys[item[0]])}


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
    """One GROUP BY (tier, locale) over the affected customers, with a sum per
    channel; the few groups are folded here.

    Why sums rather than grouping by each channel's flag too: SQLite groups by
    sorting every row, and three more sort keys cost a quarter of this step's
    CPU at 1 M customers (1.3–1.5 s against 1.7–1.9 s, docs/benchmarks.md).
    """
    flags = [case((_reachable(c), 1), else_=0) for c in CHANNELS]
    unreachable = case((and_(*(flag == 0 for flag in flags)), 1), else_=0)
    affected = select(hit.c.customer_id).scalar_subquery()
    rows = session.execute(
        select(
            Customer.tier,
            Customer.locale,
            func.count(),
            *(func.sum(flag) for flag in flags),
            func.sum(unreachable),
        )
        .where(Customer.id.in_(affected))
        .group_by(Customer.tier, Customer.locale)
    ).all()
    total = 0
    by_tier: dict[str, int] = {}
    by_locale: dict[str, int] = {}
    by_channel: dict[str, int] = dict.fromkeys([*CHANNELS, "unreachable"], 0)
    for tier, locale, count, *reached in rows:
        total += count
        by_tier[tier] = by_tier.get(tier, 0) + count
        by_locale[locale] = by_locale.get(locale, 0) + count
        for channel, n in zip([*CHANNELS, "unreachable"], reached, strict=True):
            by_channel[channel] += int(n)
    return total, dict(sorted(by_tier.items())), dict(sorted(by_locale.items())), by_channel
