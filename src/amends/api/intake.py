"""Intake from monitoring: Alertmanager's webhook, a generic one, and the drafts.

``POST /intake/alertmanager`` takes Alertmanager's webhook body as it is sent
(``webhook_configs`` with ``http_config.authorization`` carrying a write key
as ``Authorization: Bearer``); ``POST /intake/events`` one event from any
monitor. Both open or update *drafts*, which no customer sees until
``POST /intake/drafts/{id}/publish`` (or a rule) opens the incident — through
the same flow as ``POST /incidents``, so the first notice is owed at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request

from amends.api.auth import AUTH_ERRORS, Reader, Writer, actor
from amends.api.deliveries import kick
from amends.api.deps import SessionDep
from amends.apikeys.models import ApiKey
from amends.incidents.schemas import IncidentOut
from amends.intake import metrics, payloads
from amends.intake import service as intake_service
from amends.intake.models import DraftState
from amends.intake.rules import RuleSet
from amends.intake.schemas import DiscardIn, DraftOut, PublishIn, ReceivedOut

router = APIRouter(prefix="/intake", tags=["intake"], responses=AUTH_ERRORS)


def _rules(request: Request) -> RuleSet:
    rules: RuleSet = request.app.state.intake_rules
    return rules


@router.post("/alertmanager", dependencies=[Writer])
def alertmanager(
    body: payloads.AlertmanagerPayload,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> ReceivedOut:
    """Alertmanager's webhook (payload version 4): one alert group per call.

    Each alert joins the draft of its fingerprint or of its group, or opens
    one. An alert no rule maps (or whose component is not in the catalog) is
    answered ``ignored`` with the reason — never a refusal of the whole group,
    which Alertmanager would retry."""
    received = intake_service.receive(
        session=session, alerts=payloads.from_alertmanager(body), rules=_rules(request)
    )
    metrics.count(payloads.ALERTMANAGER, received)
    if received.notices:
        background.add_task(kick, request)
    return ReceivedOut.of(received)


@router.post("/events", dependencies=[Writer])
def event(
    body: payloads.Event, session: SessionDep, request: Request, background: BackgroundTasks
) -> ReceivedOut:
    """One event from any monitor. One the rules cannot map is a 422 naming why."""
    received = intake_service.receive(
        session=session, alerts=[payloads.from_event(body)], rules=_rules(request), strict=True
    )
    metrics.count(payloads.WEBHOOK, received)
    if received.notices:
        background.add_task(kick, request)
    return ReceivedOut.of(received)


@router.get("/rules", dependencies=[Reader])
def rules(request: Request) -> dict[str, Any]:
    """The intake rules in force (``intake_rules_file``, or the built-in one)."""
    return _rules(request).model_dump(mode="json")


@router.get("/drafts", dependencies=[Reader])
def list_drafts(
    session: SessionDep,
    state: Annotated[DraftState | None, Query(description="Default: draft.")] = DraftState.draft,
    everything: Annotated[bool, Query(alias="all", description="Every state.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[DraftOut]:
    """Drafts, most recently changed first."""
    drafts = intake_service.list_drafts(
        session=session, state=None if everything else state, limit=limit
    )
    return [DraftOut.of(d) for d in drafts]


@router.get("/drafts/{draft_id}", dependencies=[Reader])
def get_draft(draft_id: int, session: SessionDep) -> DraftOut:
    """The draft with each of its alerts."""
    return DraftOut.of(intake_service.get_draft(session=session, draft_id=draft_id))


@router.post("/drafts/{draft_id}/publish", status_code=201)
def publish(
    draft_id: int,
    body: PublishIn,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
    key: Annotated[ApiKey, Writer],
) -> IncidentOut:
    """Open the draft's incident (``POST /incidents``'s flow): the first notice is owed
    now. A draft already published or discarded is a 409."""
    _, incident, notice = intake_service.publish(
        session=session,
        draft_id=draft_id,
        title=body.title,
        message=body.message,
        description=body.description,
        by=actor(key),
    )
    if notice is not None:
        background.add_task(kick, request)
    return IncidentOut.of(incident)


@router.post("/drafts/{draft_id}/discard", dependencies=[Writer])
def discard(draft_id: int, body: DiscardIn, session: SessionDep) -> DraftOut:
    """Not an incident: it is never published; its alerts update it silently until
    they resolve."""
    draft = intake_service.discard(session=session, draft_id=draft_id, reason=body.reason)
    return DraftOut.of(draft)
