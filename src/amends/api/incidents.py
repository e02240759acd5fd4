"""Incidents and maintenance windows: declare, update, resolve, read the timeline.

The same operations as ``amends incident open|update|resolve|maintenance|show|list``,
through the same service and the same response shape as their ``--json``.
Reading needs a ``read`` key: timelines carry internal notes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request

from amends import flows
from amends.api.auth import AUTH_ERRORS, Reader, Writer
from amends.api.deliveries import kick
from amends.api.deps import SessionDep
from amends.cadence import service as cadence_service
from amends.cadence.schemas import IncidentDetail, PolicyOut
from amends.delivery import slices
from amends.incidents import cadence_policy
from amends.incidents import service as incident_service
from amends.incidents.models import IncidentKind
from amends.incidents.schemas import (
    IncidentOpen,
    IncidentOut,
    IncidentResolve,
    IncidentUpdateIn,
    MaintenanceIn,
    PolicyIn,
    UpdateOut,
)

router = APIRouter(tags=["incidents"], responses=AUTH_ERRORS)


@router.get("/incidents", dependencies=[Reader])
def list_incidents(
    session: SessionDep,
    kind: IncidentKind | None = None,
    open_only: Annotated[
        bool, Query(alias="open", description="Only incidents not yet resolved")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[IncidentOut]:
    """Newest first (by start), at most ``limit``."""
    incidents = incident_service.list_incidents(
        session=session, kind=kind, open_only=open_only, limit=limit
    )
    return [IncidentOut.of(i) for i in incidents]


@router.post("/incidents", status_code=201, dependencies=[Writer])
def open_incident(
    body: IncidentOpen, session: SessionDep, request: Request, background: BackgroundTasks
) -> IncidentOut:
    """Declare an incident: what fails, how badly, since when (not in the future).

    With ``notify`` (default) the affected customers and the subscribers of
    the failing components are owed a first notice, sent after the commit.
    With this process's inline worker running, the notice is written in two
    steps: its first slice is sent while the worker writes the rest."""
    sending_here = getattr(request.app.state, "dispatch_worker", None) is not None
    incident, notice = flows.open_incident(
        session=session,
        notify=body.notify,
        first_slice=slices.FIRST_SLICE if sending_here else None,
        title=body.title,
        components=body.components,
        impact=body.impact,
        started_at=body.started_at,
        description=body.description,
        message=body.message,
        status=body.status,
        cadence=body.cadence.changes() if body.cadence else None,
    )
    if notice is not None:
        background.add_task(kick, request)
    return IncidentOut.of(incident)


@router.get("/incidents/{incident_id}", dependencies=[Reader])
def get_incident(incident_id: int, session: SessionDep) -> IncidentDetail:
    """The incident with its components and its timeline, oldest update first, and
    its ``cadence``: the policy, what is due next (or overdue) judged from the
    notices in the delivery ledger, and the record so far (seconds)."""
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    found = cadence_service.standing(session=session, incident_id=incident_id)
    return IncidentDetail.with_cadence(incident, found)


@router.patch("/incidents/{incident_id}/cadence", dependencies=[Writer])
def set_cadence(incident_id: int, body: PolicyIn, session: SessionDep) -> PolicyOut:
    """Change the incident's cadence policy; omitted fields keep their value.
    A value that is not positive is a 422 ``validation_failed`` naming the field."""
    policy = cadence_policy.set_policy(
        session=session,
        incident_id=incident_id,
        **body.changes(),  # type: ignore[arg-type]
    )
    return PolicyOut.of(policy)


@router.post("/incidents/{incident_id}/updates", status_code=201, dependencies=[Writer])
def post_update(
    incident_id: int,
    body: IncidentUpdateIn,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> UpdateOut:
    """Add to the timeline; a closing status (resolved, completed, cancelled) closes it.

    An impossible move (anything after ``resolved``) is a 409
    ``invalid_transition``; a time before the start or the previous update, or
    in the future, is a 422 ``invalid_time``. A ``customer_facing`` update
    (default) owes the affected customers a notice; ``false`` is an internal note.
    """
    update, notice = flows.post_update(
        session=session,
        incident_id=incident_id,
        status=body.status,
        message=body.message,
        components=body.components,
        at=body.at,
        notify=body.customer_facing,
    )
    if notice is not None:
        background.add_task(kick, request)
    return UpdateOut.of(update)


@router.post("/incidents/{incident_id}/resolve", dependencies=[Writer])
def resolve(
    incident_id: int,
    body: IncidentResolve,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> IncidentOut:
    """Resolve an incident (or complete a maintenance): every component back to
    operational; with ``notify`` (default) a resolution notice is owed."""
    incident, notice = flows.resolve(
        session=session,
        notify=body.notify,
        incident_id=incident_id,
        message=body.message,
        resolved_at=body.resolved_at,
    )
    if notice is not None:
        background.add_task(kick, request)
    return IncidentOut.of(incident)


@router.post("/maintenance", status_code=201, dependencies=[Writer])
def schedule_maintenance(body: MaintenanceIn, session: SessionDep) -> IncidentOut:
    """Announce planned work. It moves on through ``/incidents/{id}/updates``
    (``in_progress``, ``verifying``, ``completed``, or ``cancelled`` before it starts)."""
    incident = incident_service.schedule_maintenance(
        session=session,
        title=body.title,
        components=body.components,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        description=body.description,
        message=body.message,
    )
    return IncidentOut.of(incident)
