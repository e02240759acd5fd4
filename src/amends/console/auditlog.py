"""The audit log screen: every action, filterable by person, action and date; CSV export."""

from __future__ import annotations

import datetime as dt
import io

from fastapi import APIRouter, Request
from fastapi.responses import Response

from amends.console.access import Guard, OperatorDep
from amends.console.deps import SessionDep
from amends.console.pages import HEADERS, render
from amends.errors import ValidationFailed
from amends.users import auditlog

router = APIRouter(include_in_schema=False, dependencies=[Guard])
SHOWN = 500


def _day(value: str, field: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
    except ValueError:
        raise ValidationFailed(f"{value!r} is not a date (YYYY-MM-DD)", field=field) from None


def _filter(request: Request) -> auditlog.Filter:
    """From the query string; ``until`` is inclusive of its whole day."""
    q = request.query_params
    until = _day(q.get("until", ""), "until")
    return auditlog.Filter(
        actor=q.get("actor", ""),
        action=q.get("action", ""),
        since=_day(q.get("since", ""), "since"),
        until=until + dt.timedelta(days=1) if until else None,
    )


@router.get("/console/audit")
def audit_page(request: Request, session: SessionDep, me: OperatorDep) -> Response:
    error = ""
    try:
        where = _filter(request)
        entries = auditlog.search(session=session, where=where, limit=SHOWN)
    except ValidationFailed as exc:
        error, entries = f"{exc.message} ({exc.field})", []
    return render(
        request, "audit.html", me, status_code=422 if error else 200, entries=entries,
        error=error, shown=SHOWN, q=dict(request.query_params),
        actors=auditlog.actors(session=session), actions=auditlog.actions(session=session),
        query=request.url.query,
    )  # fmt: skip


@router.get("/console/audit.csv")
def audit_csv(request: Request, session: SessionDep, me: OperatorDep) -> Response:
    """Every matching entry (not only the screen's first few hundred), as CSV."""
    where = _filter(request)
    out = io.StringIO()
    count = auditlog.write_csv(session=session, where=where, out=out)
    auditlog.record(
        session=session, actor=me.email, action="audit.export", detail=f"{count} rows; "
        + request.url.query, ip=me.ip,
    )  # fmt: skip
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={**HEADERS, "Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )
