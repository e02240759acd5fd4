"""Prometheus gauges of the cadence, set at scrape time.

One series per incident that owes something and per notice owed: whether it
is overdue (0/1), by how many seconds, and how many seconds are left.
Incidents are labelled by id only (titles may carry names). The gauges are
cleared before each refresh so an incident that no longer owes anything
disappears instead of keeping its last value.
"""

from __future__ import annotations

import datetime as dt

from prometheus_client import Gauge
from sqlalchemy.orm import Session

from amends.cadence.service import watched
from amends.db import utcnow

LABELS = ["incident", "notice"]
OVERDUE = Gauge("amends_cadence_overdue", "1 when the notice is past its deadline", LABELS)
OVERDUE_SECONDS = Gauge(
    "amends_cadence_overdue_seconds", "Seconds past the deadline (0 when not late)", LABELS
)
DUE_IN_SECONDS = Gauge(
    "amends_cadence_due_in_seconds", "Seconds until the deadline (0 when late)", LABELS
)
_ALL = (OVERDUE, OVERDUE_SECONDS, DUE_IN_SECONDS)


def refresh(*, session: Session, now: dt.datetime | None = None) -> int:
    """Set the gauges from the incidents watched now; returns how many series."""
    now = now or utcnow()
    found = watched(session=session, now=now)
    for gauge in _ALL:
        gauge.clear()
    series = 0
    for standing in found:
        for due in standing.due:
            labels = (str(standing.incident.id), due.notice.value)
            left = (due.due_at - now).total_seconds()
            OVERDUE.labels(*labels).set(1 if due.overdue else 0)
            OVERDUE_SECONDS.labels(*labels).set(max(0.0, -left))
            DUE_IN_SECONDS.labels(*labels).set(max(0.0, left))
            series += 1
    return series
