"""Availability per component: the uptime a status page shows. No key needed (no personal data)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from amends.api.deps import SessionDep
from amends.availability import service
from amends.db import utcnow

router = APIRouter(tags=["availability"])


@router.get("/components/{key}/availability")
def component_availability(
    key: str,
    request: Request,
    session: SessionDep,
    period: Annotated[
        str | None, Query(description="YYYY-MM-DD, YYYY-MM, <n>d, <n>m or all")
    ] = None,
    by: Annotated[Literal["day", "month"] | None, Query()] = None,
    locale: Annotated[str, Query(pattern="^(en|es)$")] = "en",
) -> dict[str, Any]:
    """Measured availability (percent as an exact decimal string), and the track-record
    sentence when the history supports one. Without ``period``: today, this month,
    rolling 90 days and all time."""
    rules = service.rules_from(request.app.state.settings)
    now = utcnow()
    if period is None:
        views = service.summary(session=session, component=key, now=now, rules=rules)
        record = service.track_record(
            session=session, component=key, locale=locale, now=now, rules=rules
        )
        return {
            "component": key,
            "views": {name: v.as_dict() for name, v in views.items()},
            "track_record": record.sentence if record else None,
        }
    start, end = service.parse_period(period, now)
    if by is None:
        rows = [
            service.availability(
                session=session, component=key, start=start, end=end, now=now, rules=rules
            )
        ]
    else:
        rows = service.series(
            session=session, component=key, start=start, end=end, by=by, now=now, rules=rules
        )
    return {"component": key, "periods": [r.as_dict() for r in rows]}
