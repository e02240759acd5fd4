"""What became of an incident's notices, and the Prometheus metrics.

``GET /incidents/{id}/deliveries`` is ``amends deliveries ID --json``: counts by
state and channel, and per notice. ``/metrics`` carries counts and latencies
only, never an address.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from amends.api.auth import AUTH_ERRORS, Reader
from amends.api.deps import SessionDep
from amends.cadence import metrics as cadence_metrics
from amends.db import session_factory as make_sessions
from amends.delivery import metrics
from amends.delivery import service as delivery_service
from amends.delivery.dispatch import InlineWorker

router = APIRouter(tags=["deliveries"], responses=AUTH_ERRORS)


@router.get("/incidents/{incident_id}/deliveries", dependencies=[Reader])
def deliveries(incident_id: int, session: SessionDep) -> dict[str, Any]:
    """Ledger rows of this incident's notices by state and by channel."""
    counts = delivery_service.counts(session=session, incident_id=incident_id)
    return {
        "incident_id": counts.incident_id,
        "total": counts.total,
        "by_state": counts.by_state,
        "by_channel": counts.by_channel,
        "notices": counts.notices,
    }


def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format; the outstanding and cadence gauges are read at scrape time."""
    with make_sessions(request.app.state.read_engine)() as session:
        metrics.PENDING.set(delivery_service.outstanding(session=session))
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
