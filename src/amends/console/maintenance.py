"""Scheduling maintenance from the console: components, a window with its UTC
offset, and who it would touch (the same impact preview as opening an incident).

Thin: ``incidents.service.schedule_maintenance`` (as ``amends incident
maintenance``) creates it; components go under maintenance when it starts.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from amends.catalog import service as catalog_service
from amends.console.access import Guard, OperatorDep
from amends.console.deps import SessionDep
from amends.console.pages import HEADERS, render
from amends.errors import AmendsError, ValidationFailed
from amends.incidents import service as incident_service
from amends.users import auditlog

router = APIRouter(include_in_schema=False, dependencies=[Guard])
#: Whole and half hours, and the quarter hours in use (India, Nepal, Chatham).
OFFSETS = [
    f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
    for m in sorted({h * 60 for h in range(-12, 15)} | {-570, -210, 210, 270, 330, 345, 390, 525,
                                                       570, 630, 765, 825})
]  # fmt: skip


async def form_data(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(form_data)]


def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def when(local: str, offset: str, field: str) -> dt.datetime:
    """A browser's ``datetime-local`` value with the chosen offset, as an aware time."""
    if offset not in OFFSETS:
        raise ValidationFailed(f"unknown UTC offset {offset!r}", field="offset")
    try:
        value = dt.datetime.fromisoformat(f"{local}{offset}")
    except ValueError:
        raise ValidationFailed(f"{local!r} is not a date and time", field=field) from None
    return value.astimezone(dt.UTC)


@router.get("/console/maintenance/new")
def new_maintenance(request: Request, session: SessionDep, me: OperatorDep) -> Response:
    return _form(request, session, me)


def _form(
    request: Request, session: Any, me: Any, error: str = "", form: FormData | None = None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    return render(
        request, "maintenance_new.html", me, status_code=status_code, error=error,
        components=catalog_service.list_components(session=session), offsets=OFFSETS,
        chosen=set(form.getlist("component")) if form is not None else set(),
        values={k: v for k, v in (form or {}).items() if isinstance(v, str)},
    )  # fmt: skip


@router.post("/console/maintenance")
def schedule(request: Request, session: SessionDep, me: OperatorDep, form: FormDep) -> Response:
    try:
        keys = [k for k in form.getlist("component") if isinstance(k, str)]
        if not keys:
            raise ValidationFailed("pick at least one component", field="component")
        offset = _text(form, "offset") or "+00:00"
        starts = when(_text(form, "starts_at"), offset, "starts_at")
        ends = when(_text(form, "ends_at"), offset, "ends_at")
        with session.begin_nested():
            incident = incident_service.schedule_maintenance(
                session=session, title=_text(form, "title"), components=keys, starts_at=starts,
                ends_at=ends, description=_text(form, "description"),
            )  # fmt: skip
    except AmendsError as exc:
        session.expire_all()
        message = exc.message + (f" ({exc.field})" if exc.field else "")
        return _form(request, session, me, message, form, 422)
    auditlog.record(
        session=session, actor=me.email, action="maintenance.schedule",
        target=f"incident {incident.id}",
        detail=f"{', '.join(sorted(keys))}; {starts.isoformat()} – {ends.isoformat()}", ip=me.ip,
    )  # fmt: skip
    return RedirectResponse(f"/console/incidents/{incident.id}", status_code=303, headers=HEADERS)
