"""Availability per component, from the incidents' status history and imported windows.

A component is down when it, or anything it depends on (transitively, the same
dependency closure impact uses), is failing. Each status counts at a weight
(:class:`Rules`: major 1, partial 0.5, degraded 0 by default); scheduled
maintenance is excluded, counted or taken out of the denominator per policy;
the measured span is clipped to the period, to the component's lifetime and
to now. Everything is ``Decimal`` on integer microseconds: no float ever
decides whether a tier is crossed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Literal

from babel.numbers import format_percent
from sqlalchemy import select
from sqlalchemy.orm import Session

from amends.availability.models import OutageImpact, OutageWindow
from amends.availability.windows import (
    MICROSECOND,
    ZERO,
    Span,
    clip,
    merge,
    percent_up,
    subtract,
    weighted_micros,
)
from amends.catalog import service as catalog_service
from amends.catalog.models import Component
from amends.config import Settings
from amends.db import utcnow
from amends.errors import ValidationFailed
from amends.incidents.models import ComponentStatus, ComponentStatusChange, Incident

Maintenance = Literal["exclude", "count", "shrink"]
MAINTENANCE = "maintenance"


@dataclass(frozen=True)
class Rules:
    """How history turns into downtime. ``maintenance``: ``exclude`` (planned work is
    not downtime; most SLAs), ``count`` (it is), ``shrink`` (not downtime, and not in
    the denominator either: Cloudflare's "scheduled availability")."""

    weights: Mapping[str, Decimal] = field(
        default_factory=lambda: {
            ComponentStatus.major_outage.value: Decimal(1),
            ComponentStatus.partial_outage.value: Decimal("0.5"),
            ComponentStatus.degraded_performance.value: Decimal(0),
        }
    )
    maintenance: Maintenance = "exclude"


DEFAULT_RULES = Rules()


def rules_from(settings: Settings) -> Rules:
    """The operator's configured weights and maintenance policy."""
    return Rules(dict(settings.availability_weights), settings.availability_maintenance)


@dataclass(frozen=True)
class History:
    """A component's whole downtime history, merged: what every period is cut from."""

    component: str
    created_at: dt.datetime
    down: list[Span]
    maintenance: list[Span]


@dataclass(frozen=True)
class Availability:
    component: str
    start: dt.datetime
    end: dt.datetime
    measured_seconds: int
    down_seconds: Decimal
    percent: Decimal | None  # None: nothing to measure (before the component existed)

    def as_dict(self) -> dict[str, object]:
        return {
            "component": self.component,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "measured_seconds": self.measured_seconds,
            "down_seconds": format(self.down_seconds, "f"),
            "percent": None if self.percent is None else str(self.percent),
        }


def history(
    *,
    session: Session,
    component: str,
    now: dt.datetime | None = None,
    rules: Rules = DEFAULT_RULES,
) -> History:
    """Every downtime and maintenance window of ``component``, its dependencies' included."""
    now = now or utcnow()
    target = catalog_service.get_component(session=session, key=component)
    sources = _sources(session, target.id)
    down: list[Span] = []
    planned: list[Span] = []
    for status, start, end in _status_spans(session, sources, now):
        if status == ComponentStatus.under_maintenance.value:
            planned.append(Span(start, end))
        else:
            down.append(Span(start, end, _weight(rules, status)))
    for row in session.scalars(select(OutageWindow).where(OutageWindow.component_id.in_(sources))):
        if row.impact is OutageImpact.maintenance:
            planned.append(Span(row.starts_at, row.ends_at))
        else:
            down.append(Span(row.starts_at, row.ends_at, _weight(rules, row.impact.value)))
    down, planned = merge(down), merge(planned)
    if rules.maintenance == "count":
        down, planned = merge([*down, *planned]), []
    else:
        down = subtract(down, planned)
    return History(target.key, target.created_at, down, planned)


def _weight(rules: Rules, status: str) -> Decimal:
    try:
        return Decimal(rules.weights[status])
    except KeyError:
        raise ValidationFailed(f"no weight for status {status!r}", field="weights") from None


def _sources(session: Session, component_id: int) -> set[int]:
    """The component and everything it depends on: their failures are its failures."""
    ids = session.scalars(select(Component.id)).all()
    return {source for source in ids if component_id in _closure(session, source)}


def _closure(session: Session, component_id: int) -> set[int]:
    return catalog_service.dependency_closure(session=session, component_ids=[component_id])


def _status_spans(
    session: Session, sources: set[int], now: dt.datetime
) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """Each status a source component had inside an incident, with its span."""
    rows = session.execute(
        select(
            ComponentStatusChange.incident_id,
            ComponentStatusChange.component_id,
            ComponentStatusChange.status,
            ComponentStatusChange.at,
            Incident.resolved_at,
        )
        .join(Incident, Incident.id == ComponentStatusChange.incident_id)
        .where(ComponentStatusChange.component_id.in_(sources))
        .order_by(
            ComponentStatusChange.incident_id,
            ComponentStatusChange.component_id,
            ComponentStatusChange.at,
            ComponentStatusChange.id,
        )
    ).all()
    out: list[tuple[str, dt.datetime, dt.datetime]] = []
    for i, (incident_id, component_id, status, at, resolved_at) in enumerate(rows):
        following = rows[i + 1] if i + 1 < len(rows) else None
        if following is not None and (following[0], following[1]) == (incident_id, component_id):
            end = following[3]
        else:
            end = resolved_at or now
        if status is not ComponentStatus.operational and end > at:
            out.append((status.value, at, end))
    return out


def measure(
    past: History,
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime,
    rules: Rules = DEFAULT_RULES,
) -> Availability:
    """Availability in ``[start, end)``, clipped to the component's lifetime and to now."""
    lo, hi = max(start, past.created_at), min(end, now)
    if hi <= lo:
        return Availability(past.component, start, end, 0, ZERO, None)
    total = (hi - lo) // MICROSECOND
    if rules.maintenance == "shrink":
        total -= int(weighted_micros(clip(past.maintenance, lo, hi)))
    down = weighted_micros(clip(past.down, lo, hi))
    seconds = down / Decimal(1_000_000)
    return Availability(
        past.component, start, end, max(0, total) // 1_000_000, seconds, percent_up(down, total)
    )


def availability(
    *,
    session: Session,
    component: str,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime | None = None,
    rules: Rules = DEFAULT_RULES,
) -> Availability:
    """One component's availability over ``[start, end)``."""
    now = now or utcnow()
    return measure(
        history(session=session, component=component, now=now, rules=rules),
        start,
        end,
        now=now,
        rules=rules,
    )


def series(
    *,
    session: Session,
    component: str,
    start: dt.datetime,
    end: dt.datetime,
    by: Literal["day", "month"],
    now: dt.datetime | None = None,
    rules: Rules = DEFAULT_RULES,
) -> list[Availability]:
    """Per UTC day or calendar month in ``[start, end)``: the history is read once."""
    now = now or utcnow()
    past = history(session=session, component=component, now=now, rules=rules)
    out = []
    cursor = _floor(start, by)
    while cursor < end:
        following = cursor + dt.timedelta(days=1) if by == "day" else add_months(cursor, 1)
        out.append(measure(past, max(cursor, start), min(following, end), now=now, rules=rules))
        cursor = following
    return out


def _floor(moment: dt.datetime, by: str) -> dt.datetime:
    day = moment.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day if by == "day" else day.replace(day=1)


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """Calendar months later (earlier if negative), the day clamped to the month's length."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    days = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.date(year, month, 1)).days
    return moment.replace(year=year, month=month, day=min(moment.day, days))


_PERIOD = re.compile(r"^(?:(?P<days>\d+)d|(?P<months>\d+)m|all|(?P<date>\d{4}-\d{2}(?:-\d{2})?))$")


def parse_period(text: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """``2012-09-10`` (a UTC day), ``2012-09`` (a calendar month), ``90d`` / ``12m``
    (rolling, ending now) or ``all``."""
    found = _PERIOD.match(text.strip())
    if not found:
        raise ValidationFailed(
            f"period {text!r}: use YYYY-MM-DD, YYYY-MM, <n>d, <n>m or all", field="period"
        )
    if found["days"]:
        return now - dt.timedelta(days=int(found["days"])), now
    if found["months"]:
        return add_months(now, -int(found["months"])), now
    if found["date"]:
        parts = [int(p) for p in found["date"].split("-")]
        try:
            if len(parts) == 3:
                day = dt.datetime(*parts, tzinfo=dt.UTC)
                return day, day + dt.timedelta(days=1)
            month = dt.datetime(parts[0], parts[1], 1, tzinfo=dt.UTC)
        except ValueError as exc:
            raise ValidationFailed(f"period {text!r}: {exc}", field="period") from None
        return month, add_months(month, 1)
    return dt.datetime.min.replace(tzinfo=dt.UTC), now


def summary(
    *,
    session: Session,
    component: str,
    now: dt.datetime | None = None,
    rules: Rules = DEFAULT_RULES,
) -> dict[str, Availability]:
    """The four views an operator asks for: today, this month, rolling 90 days, all time."""
    now = now or utcnow()
    past = history(session=session, component=component, now=now, rules=rules)
    day = _floor(now, "day")
    month = _floor(now, "month")
    spans = {
        "day": (day, day + dt.timedelta(days=1)),
        "month": (month, add_months(month, 1)),
        "90d": (now - dt.timedelta(days=90), now),
        "all": (past.created_at, now),
    }
    return {k: measure(past, a, b, now=now, rules=rules) for k, (a, b) in spans.items()}


@dataclass(frozen=True)
class TrackRecord:
    component: str
    percent: Decimal  # truncated, never rounded up
    months: int
    sentence: str


_SENTENCES = {
    "en": "{percent} availability over the last {months} months",
    "es": "{percent} de disponibilidad en los últimos {months} meses",
}


def track_record(
    *,
    session: Session,
    component: str,
    locale: str,
    months: int = 12,
    decimals: int = 2,
    minimum: Decimal = Decimal(99),
    now: dt.datetime | None = None,
    rules: Rules = DEFAULT_RULES,
) -> TrackRecord | None:
    """The sentence an apology may quote — or None when the history does not support one.

    Truthful by construction: the figure covers the whole window (a component
    younger than ``months`` gets no sentence), is truncated to ``decimals``
    (99.9917 % reads "99.99 %", 99.9999 % never "100 %"), and nothing is said
    below ``minimum``, where "our track record" would be a boast about failure.
    """
    now = now or utcnow()
    start = add_months(now, -months)
    past = history(session=session, component=component, now=now, rules=rules)
    if past.created_at > start:
        return None
    measured = measure(past, start, now, now=now, rules=rules)
    if measured.percent is None or measured.percent < minimum:
        return None
    quantum = Decimal(1).scaleb(-decimals)
    shown = measured.percent.quantize(quantum, rounding=ROUND_DOWN)
    language = locale.split("_")[0].split("-")[0]
    template = _SENTENCES.get(language, _SENTENCES["en"])
    text = format_percent(shown / 100, locale=language, decimal_quantization=False)
    return TrackRecord(past.component, shown, months, template.format(percent=text, months=months))
