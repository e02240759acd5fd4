"""The after-action report over HTTP: ``GET /incidents/{id}/report`` (a read key)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from amends.api.auth import AUTH_ERRORS, Reader
from amends.api.deps import SessionDep
from amends.report import service as report_service

router = APIRouter(tags=["report"], responses=AUTH_ERRORS)


@router.get("/incidents/{incident_id}/report", dependencies=[Reader])
def after_action(
    incident_id: int,
    session: SessionDep,
    comments: Annotated[
        int, Query(ge=0, le=1000, description="Newest comments given per language.")
    ] = report_service.COMMENTS_SHOWN,
) -> dict[str, Any]:
    """How the incident was communicated: time to first notice, longest gap between
    updates and time to apology (from the delivery ledger); reach by channel
    (delivered, failed, opted out, no address, pending); customers' ratings (count,
    average, distribution, per language) and their comments; credits issued and
    redeemed, count and value per currency."""
    return report_service.after_action(
        session=session, incident_id=incident_id, comments_shown=comments
    ).to_dict()
