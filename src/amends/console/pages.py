"""Rendering console pages: templates, security headers, the cadence clock.

Pages carry no-store (they show customers' data), refuse framing, and a CSP
that allows only this site's own script and style — htmx is served from the
package, and configured (meta ``htmx-config``) to need no inline style or eval.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from babel.dates import format_datetime, format_timedelta
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from amends.console.access import Operator
from amends.incidents import cadence
from amends.incidents.models import Incident, IncidentKind, IncidentStatus
from amends.users.models import Role

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def when(value: dt.datetime | None) -> str:
    """A time as operators read it: UTC, to the minute."""
    if value is None:
        return "—"
    return format_datetime(value, "yyyy-MM-dd HH:mm 'UTC'", tzinfo=dt.UTC, locale="en")


def span(delta: dt.timedelta) -> str:
    return format_timedelta(delta, threshold=1.5, granularity="minute", locale="en")


templates.env.filters["when"] = when
templates.env.globals["Role"] = Role


def render(
    request: Request,
    template: str,
    operator: Operator | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("clock", None)
    return templates.TemplateResponse(
        request,
        template,
        {"me": operator, **context},
        status_code=status_code,
        headers=HEADERS,
    )


class Clock:
    """The cadence, as the header shows it: what is owed next and when."""

    def __init__(self, incident: Incident, due: cadence.Due | None, now: dt.datetime) -> None:
        self.incident = incident
        self.due = due
        self.now = now

    @property
    def overdue(self) -> bool:
        return self.due is not None and self.due.overdue

    @property
    def text(self) -> str:
        if self.due is None:
            return "nothing owed"
        what = self.due.notice.value.replace("_", " ")
        left = self.due.due_at - self.now
        if left.total_seconds() >= 0:
            return f"next {what} due in {span(left)}"
        return f"{what} overdue by {span(-left)}"


class MaintenanceClock(Clock):
    """A maintenance window has no update cadence: the header shows the window
    (or that the work is under way) and never turns red."""

    def __init__(self, incident: Incident, now: dt.datetime) -> None:
        super().__init__(incident, None, now)

    @property
    def overdue(self) -> bool:
        return False

    @property
    def text(self) -> str:
        incident = self.incident
        if incident.resolved_at is not None:
            return f"maintenance {incident.status.value}"
        starts = incident.scheduled_for or incident.started_at
        ends = incident.scheduled_until
        if incident.status is IncidentStatus.scheduled:
            planned = f"maintenance {window(starts, ends, self.now)}"
            return planned if self.now < starts else f"{planned}, not yet in progress"
        if ends is None:
            return "maintenance in progress"
        if ends < self.now:
            return f"maintenance in progress, past its window (ended {_hour(ends)} UTC)"
        return f"maintenance in progress until {_hour(ends)} UTC"


def _hour(value: dt.datetime) -> str:
    return format_datetime(value, "HH:mm", tzinfo=dt.UTC, locale="en")


def _day(value: dt.datetime) -> str:
    return format_datetime(value, "yyyy-MM-dd", tzinfo=dt.UTC, locale="en")


def window(starts: dt.datetime, ends: dt.datetime | None, now: dt.datetime) -> str:
    """A maintenance window as the header says it: "02:00–04:00 UTC" today,
    "2026-12-08 02:00–04:00 UTC" another day, both dates when it runs over
    midnight (UTC, as every console time)."""
    day = "" if _day(starts) == _day(now) else f"{_day(starts)} "
    if ends is None:
        return f"from {day}{_hour(starts)} UTC"
    if _day(ends) != _day(starts):
        return f"{_day(starts)} {_hour(starts)} – {_day(ends)} {_hour(ends)} UTC"
    return f"{day}{_hour(starts)}–{_hour(ends)} UTC"


def clock_for(incident: Incident, now: dt.datetime) -> Clock:
    if incident.kind is IncidentKind.maintenance:
        return MaintenanceClock(incident, now)
    due = cadence.what_is_due(
        opened_at=incident.started_at,
        resolved_at=incident.resolved_at,
        sent=cadence.sent_from_timeline(incident),
        now=now,
    )
    return Clock(incident, due[0] if due else None, now)


def most_urgent(incidents: list[Incident], now: dt.datetime) -> Clock | None:
    """The header on the list: the open incident whose next notice is due soonest
    (maintenance windows owe no updates on a clock)."""
    owed = cadence.due_now(
        incidents=[i for i in incidents if i.is_open and i.kind is IncidentKind.incident],
        now=now,
    )
    if not owed:
        return None
    incident, due = owed[0]
    return Clock(incident, due, now)
