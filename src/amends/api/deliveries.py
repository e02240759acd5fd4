"""What became of an incident's notices, pausing their sending, and the
Prometheus metrics.

``GET /incidents/{id}/deliveries`` is ``amends deliveries ID --json``: counts by
state and channel, and per notice (with who paused it, when). ``POST
…/deliveries/pause`` and ``…/resume`` are ``amends deliveries pause|resume``.
``/metrics`` carries counts and latencies only, never an address.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from amends.api.auth import AUTH_ERRORS, Reader, Writer
from amends.api.deps import SessionDep
from amends.apikeys.models import ApiKey
from amends.cadence import metrics as cadence_metrics
from amends.db import session_factory as make_sessions
from amends.delivery import ledger as delivery_ledger
from amends.delivery import metrics, pausing
from amends.delivery.dispatch import InlineWorker

router = APIRouter(tags=["deliveries"], responses=AUTH_ERRORS)


@router.get("/incidents/{incident_id}/deliveries", dependencies=[Reader])
def deliveries(incident_id: int, session: SessionDep) -> dict[str, Any]:
    """Ledger rows of this incident's notices by state and by channel."""
    counts = delivery_ledger.counts(session=session, incident_id=incident_id)
    return {
        "incident_id": counts.incident_id,
        "total": counts.total,
        "by_state": counts.by_state,
        "by_channel": counts.by_channel,
        "notices": counts.notices,
        "paused": counts.paused,
    }


class PauseIn(BaseModel):
    """Which notice; without one, every notice of the incident."""

    model_config = ConfigDict(extra="forbid")
    notice: int | None = Field(None, description="One notice's id (else all of the incident's).")


class PauseOut(BaseModel):
    incident_id: int
    notice: int | None
    changed: int = Field(description="Notices paused (or resumed) by this call.")
    paused: int = Field(description="The incident's notices paused now.")


PauseBody = Annotated[PauseIn | None, Body()]


def _change(done: pausing.Change) -> PauseOut:
    return PauseOut(
        incident_id=done.incident_id,
        notice=done.notice_id,
        changed=done.changed,
        paused=done.paused,
    )


@router.post("/incidents/{incident_id}/deliveries/pause")
def pause(
    incident_id: int,
    session: SessionDep,
    request: Request,
    key: Annotated[ApiKey, Writer],
    body: PauseBody = None,
) -> PauseOut:
    """Stop sending this incident's notices (or one): nothing more of theirs is
    claimed once this commits; messages already with a provider finish."""
    done = pausing.pause(
        session=session, incident_id=incident_id, notice_id=body.notice if body else None,
        by=_by(key), ip=request.client.host if request.client else "",
    )  # fmt: skip
    return _change(done)


@router.post("/incidents/{incident_id}/deliveries/resume")
def resume(
    incident_id: int,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
    key: Annotated[ApiKey, Writer],
    body: PauseBody = None,
) -> PauseOut:
    """Send them again: their rows are due at once (the sender is woken)."""
    done = pausing.resume(
        session=session, incident_id=incident_id, notice_id=body.notice if body else None,
        by=_by(key), ip=request.client.host if request.client else "",
    )  # fmt: skip
    if done.changed:
        background.add_task(kick, request)
    return _change(done)


def _by(key: ApiKey) -> str:
    return f"api key {key.name or key.prefix}"


def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format; the outstanding and cadence gauges are read at scrape time."""
    with make_sessions(request.app.state.read_engine)() as session:
        metrics.PENDING.set(delivery_ledger.outstanding(session=session))
        metrics.PAUSED.set(pausing.count_paused(session=session))
        cadence_metrics.refresh(session=session)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def kick(request: Request) -> None:
    """After a commit that owed notices: wake the in-process worker, or
    enqueue jobs for ``amends worker`` (distributed mode)."""
    settings = request.app.state.settings
    worker: InlineWorker | None = getattr(request.app.state, "dispatch_worker", None)
    if settings.dispatch == "inline" and worker is not None:
        worker.kick()
    elif settings.dispatch == "distributed":
        from amends.delivery.jobs import enqueue_now

        enqueue_now(settings)
