"""The 90-day uptime bars, computed from the incidents' component-status history.

The bars' colour and their incidents are the components' statuses as the
incidents declared them, in one pass over every component (the page has up
to 90 bars for each). The day's percentage is then taken from
:mod:`amends.availability` (``service._measured``), which also counts a
component as down while something it depends on is down: the same figure the
credits and the apology's track record rest on.

Weighting follows OpenStatus's "manual" mode, which matches how a visitor
reads the bar: a major outage counts fully as downtime, a partial outage half,
degraded performance and maintenance not at all (they still colour the day).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from amends.incidents import lifecycle
from amends.incidents.models import ComponentStatus, ComponentStatusChange, Incident

WEIGHT: dict[ComponentStatus, float] = {
    ComponentStatus.major_outage: 1.0,
    ComponentStatus.partial_outage: 0.5,
    ComponentStatus.degraded_performance: 0.0,
    ComponentStatus.under_maintenance: 0.0,
    ComponentStatus.operational: 0.0,
}
DAY = dt.timedelta(days=1)


@dataclass
class DayBar:
    """One day of one component: how available it was and which incidents touched it."""

    day: dt.date
    availability: float = 1.0  # 0..1
    worst: ComponentStatus = ComponentStatus.operational
    incident_ids: list[int] = field(default_factory=list)
    future: bool = False


@dataclass(frozen=True)
class Interval:
    component_id: int
    incident_id: int
    status: ComponentStatus
    start: dt.datetime
    end: dt.datetime


def intervals(*, session: Session, since: dt.datetime, now: dt.datetime) -> list[Interval]:
    """Every failing stretch of every component that overlaps [since, now]."""
    rows = session.execute(
        select(
            ComponentStatusChange.incident_id,
            ComponentStatusChange.component_id,
            ComponentStatusChange.status,
            ComponentStatusChange.at,
            Incident.resolved_at,
        )
        .join(Incident, Incident.id == ComponentStatusChange.incident_id)
        .where(or_(Incident.resolved_at.is_(None), Incident.resolved_at >= since))
        .where(ComponentStatusChange.at <= now)
        .order_by(
            ComponentStatusChange.incident_id,
            ComponentStatusChange.component_id,
            ComponentStatusChange.at,
            ComponentStatusChange.id,
        )
    ).all()
    result: list[Interval] = []
    for i, (incident_id, component_id, status, at, resolved_at) in enumerate(rows):
        following = rows[i + 1] if i + 1 < len(rows) else None
        if following is not None and following[:2] == (incident_id, component_id):
            end = following[3]
        else:
            end = min(resolved_at or now, now)
        if status in lifecycle.FAILING and end > since and end > at:
            result.append(Interval(component_id, incident_id, status, max(at, since), end))
    return result


def daily_bars(
    found: Iterable[Interval], component_ids: Iterable[int], *, days: int, now: dt.datetime
) -> dict[int, list[DayBar]]:
    """``days`` bars per component, oldest first, ending today (UTC)."""
    today = now.astimezone(dt.UTC).date()
    first = today - dt.timedelta(days=days - 1)
    bars = {
        cid: [DayBar(first + dt.timedelta(days=n)) for n in range(days)] for cid in component_ids
    }
    lost: dict[tuple[int, int], float] = defaultdict(float)
    for interval in found:
        if interval.component_id not in bars:
            continue
        day = interval.start.date()
        while day <= interval.end.date() and day <= today:
            index = (day - first).days
            start = max(interval.start, _midnight(day))
            end = min(interval.end, _midnight(day) + DAY)
            if index >= 0 and end > start:
                bar = bars[interval.component_id][index]
                lost[(interval.component_id, index)] += (
                    WEIGHT[interval.status] * (end - start).total_seconds()
                )
                bar.worst = lifecycle.worst([bar.worst, interval.status])
                if interval.incident_id not in bar.incident_ids:
                    bar.incident_ids.append(interval.incident_id)
            day += dt.timedelta(days=1)
    for (cid, index), seconds in lost.items():
        bar = bars[cid][index]
        elapsed = min(DAY, now - _midnight(bar.day)).total_seconds()
        bar.availability = max(0.0, 1.0 - seconds / elapsed) if elapsed > 0 else 1.0
    return bars


def overall(bars: list[DayBar]) -> float:
    """Availability over the whole window (days weigh the same)."""
    return sum(b.availability for b in bars) / len(bars) if bars else 1.0


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
