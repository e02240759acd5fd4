"""Incident screens: the list, opening one, its page (timeline, impact, ledger),
posting updates and resolving.

Thin, like the API: every write is a call to amends.flows (the incident and
its owed notices in one transaction), inside a savepoint so a refused
change leaves nothing behind, and an audit entry in the same transaction.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.datastructures import FormData

from amends import flows
from amends.catalog import service as catalog_service
from amends.console.access import Guard, OperatorDep
from amends.console.deps import SessionDep, kick
from amends.console.pages import HEADERS, clock_for, most_urgent, render
from amends.db import utcnow
from amends.delivery import ledger as delivery_ledger
from amends.errors import AmendsError, ValidationFailed
from amends.impact import summary as impact_summary
from amends.incidents import lifecycle
from amends.incidents import service as incident_service
from amends.incidents.models import ComponentStatus, IncidentKind, IncidentStatus
from amends.users import auditlog
from amends.users.models import Role

router = APIRouter(include_in_schema=False, dependencies=[Guard])
FAILING = [s for s in ComponentStatus if s in lifecycle.FAILING]
OPENING = [IncidentStatus.investigating, IncidentStatus.identified, IncidentStatus.monitoring]


async def form_data(request: Request) -> FormData:
    """The posted form (its field names depend on the catalog, so no Form() params)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(form_data)]


def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


@router.get("/console/")
def incident_list(request: Request, session: SessionDep, me: OperatorDep) -> Response:
    now = utcnow()
    rows = list(incident_service.list_incidents(session=session))
    open_ = [i for i in rows if i.is_open]
    closed = [i for i in rows if not i.is_open][:20]
    return render(
        request, "incidents.html", me, open_incidents=[(i, clock_for(i, now)) for i in open_],
        closed=closed, clock=most_urgent(open_, now),
    )  # fmt: skip


@router.get("/console/clock")
def clock(
    request: Request, session: SessionDep, me: OperatorDep, incident: int | None = None
) -> Response:
    """The header alone, polled by htmx, so the clock moves and turns red unattended."""
    now = utcnow()
    if incident is not None:
        shown = clock_for(incident_service.get_incident(session=session, incident_id=incident), now)
    else:
        shown = most_urgent(list(incident_service.list_incidents(session=session)), now)
    return render(request, "_header.html", me, clock=shown, clock_for_incident=incident)


@router.get("/console/incidents/new")
def new_incident(request: Request, session: SessionDep, me: OperatorDep) -> Response:
    return _new_form(request, session, me)


def _new_form(
    request: Request, session: Any, me: Any, error: str = "", form: FormData | None = None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    components = catalog_service.list_components(session=session)
    chosen = set(form.getlist("component")) if form is not None else set()
    return render(
        request, "incident_new.html", me, status_code=status_code, components=components,
        failing=FAILING, opening=OPENING, error=error, chosen=chosen,
        values={k: v for k, v in (form or {}).items() if isinstance(v, str)},
    )  # fmt: skip


@router.get("/console/incidents/impact")
def impact_preview(request: Request, session: SessionDep, me: OperatorDep) -> Response:
    """The htmx fragment under the component picker: who these components' failure hits."""
    keys = request.query_params.getlist("component")
    summary = impact_summary.preview(session=session, component_keys=keys) if keys else None
    return render(request, "_impact.html", me, summary=summary, preview=True)


def _chosen_components(form: FormData, keys: list[str]) -> dict[str, ComponentStatus]:
    chosen: dict[str, ComponentStatus] = {}
    for key in keys:
        raw = _text(form, f"status_{key}") or ComponentStatus.major_outage.value
        try:
            chosen[key] = ComponentStatus(raw)
        except ValueError:
            raise ValidationFailed(f"unknown status {raw!r}", field=f"status_{key}") from None
    return chosen


@router.post("/console/incidents")
def open_incident(
    request: Request, session: SessionDep, me: OperatorDep, form: FormDep
) -> Response:
    try:
        status = IncidentStatus(_text(form, "status") or "investigating")
        keys = [k for k in form.getlist("component") if isinstance(k, str)]
        components = _chosen_components(form, keys)
        if not components:
            raise ValidationFailed("pick at least one component", field="component")
        with session.begin_nested():
            incident, notice = flows.open_incident(
                session=session, title=_text(form, "title"), components=components,
                message=_text(form, "message") or None, status=status,
            )  # fmt: skip
    except (AmendsError, ValueError) as exc:
        return _new_form(request, session, me, _message(exc), form, 422)
    auditlog.record(
        session=session, actor=me.email, action="incident.open", target=f"incident {incident.id}",
        detail=_notice_detail(components, notice), ip=me.ip,
    )  # fmt: skip
    return _to_incident(request, incident.id)


def _to_incident(request: Request, incident_id: int) -> Response:
    """After a write: back to the incident (GET), and wake the sender once committed."""
    return RedirectResponse(
        f"/console/incidents/{incident_id}", status_code=303, headers=HEADERS,
        background=BackgroundTask(kick, request),
    )  # fmt: skip


def _message(exc: Exception) -> str:
    if isinstance(exc, AmendsError):
        return exc.message + (f" ({exc.field})" if exc.field else "")
    return str(exc)


def _notice_detail(components: dict[str, ComponentStatus] | None, notice: Any) -> str:
    parts = []
    if components:
        parts.append(", ".join(f"{k}={v.value}" for k, v in sorted(components.items())))
    if notice is not None:
        parts.append(f"notice {notice.notice.id} ({notice.notice.kind}): {notice.deliveries} rows")
    return "; ".join(parts)


@router.get("/console/incidents/{incident_id}")
def incident_page(
    incident_id: int, request: Request, session: SessionDep, me: OperatorDep
) -> Response:
    return _incident_page(request, session, me, incident_id)


def _incident_page(
    request: Request, session: Any, me: Any, incident_id: int, error: str = "",
    status_code: int = 200,
) -> Response:  # fmt: skip
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    now = utcnow()
    following = sorted(
        s for s in lifecycle.transitions(incident.kind).get(incident.status, frozenset())
        if s not in lifecycle.CLOSING
    )  # fmt: skip
    return render(
        request, "incident.html", me, status_code=status_code, incident=incident,
        clock=clock_for(incident, now), clock_for_incident=incident.id,
        summary=impact_summary.summarize(session=session, incident=incident, now=now),
        ledger=delivery_ledger.counts(session=session, incident_id=incident_id),
        following=following, statuses=list(ComponentStatus), error=error,
        may_update=me.may(Role.communicator) and incident.is_open,
        may_resolve=me.may(Role.approver) and incident.is_open
        and incident.kind is IncidentKind.incident,
    )  # fmt: skip


@router.post("/console/incidents/{incident_id}/updates")
def post_update(
    incident_id: int, request: Request, session: SessionDep, me: OperatorDep, form: FormDep
) -> Response:
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    current = {link.component.key: link.status for link in incident.components}
    try:
        status = IncidentStatus(_text(form, "status"))
        if status in lifecycle.CLOSING:
            raise ValidationFailed("resolve with the resolve form", field="status")
        changes = {
            key: ComponentStatus(_text(form, f"status_{key}"))
            for key in current
            if _text(form, f"status_{key}") and _text(form, f"status_{key}") != current[key].value
        }
        notify = _text(form, "notify") == "on"
        with session.begin_nested():
            _update, notice = flows.post_update(
                session=session, incident_id=incident_id, status=status,
                message=_text(form, "message"), components=changes, notify=notify,
            )  # fmt: skip
    except (AmendsError, ValueError) as exc:
        session.expire_all()
        return _incident_page(request, session, me, incident_id, _message(exc), 422)
    auditlog.record(
        session=session, actor=me.email, action="incident.update",
        target=f"incident {incident_id}",
        detail=f"status={status.value}; " + _notice_detail(changes, notice), ip=me.ip,
    )  # fmt: skip
    return _to_incident(request, incident_id)


@router.post("/console/incidents/{incident_id}/resolve")
def resolve(
    incident_id: int, request: Request, session: SessionDep, me: OperatorDep, form: FormDep
) -> Response:
    try:
        with session.begin_nested():
            _incident, notice = flows.resolve(
                session=session, incident_id=incident_id, message=_text(form, "message")
            )
    except AmendsError as exc:
        session.expire_all()
        return _incident_page(request, session, me, incident_id, _message(exc), 422)
    auditlog.record(
        session=session, actor=me.email, action="incident.resolve",
        target=f"incident {incident_id}", detail=_notice_detail(None, notice), ip=me.ip,
    )  # fmt: skip
    return _to_incident(request, incident_id)
