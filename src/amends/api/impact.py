"""Who an incident hits: a summary for the first minutes, and the full list as a file."""

from __future__ import annotations

from typing import Annotated, Literal, TextIO

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from amends.api.auth import AUTH_ERRORS, Reader
from amends.api.deps import ReadSessionFactoryDep, SessionDep
from amends.api.streaming import stream_writes
from amends.impact import export as impact_export
from amends.impact import summary as impact_summary
from amends.impact.summary import ImpactSummary
from amends.incidents import service as incident_service

router = APIRouter(tags=["impact"], responses=AUTH_ERRORS)

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


@router.get("/incidents/{incident_id}/impact", dependencies=[Reader])
def summary(incident_id: int, session: SessionDep) -> ImpactSummary:
    """How many sites and customers are hit, by component, tier, locale and channel."""
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    return impact_summary.summarize(session=session, incident=incident)


@router.get(
    "/incidents/{incident_id}/impact/export",
    dependencies=[Reader],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One row per affected site.",
            "content": {media: {} for media in MEDIA_TYPES.values()},
        }
    },
)
def export(
    incident_id: int,
    session: SessionDep,
    factory: ReadSessionFactoryDep,
    fmt: Annotated[Literal["csv", "jsonl"], Query(alias="format")] = "csv",
) -> StreamingResponse:
    """Every affected site with its customer's contact data, streamed as it is read.

    The incident is checked here so an unknown one is a clean 404; the rows
    are then read in a session of the export's own, because the response
    outlives this request's unit of work. That session only reads: on SQLite
    it must not hold the writer lock for as long as a slow client downloads,
    or incident updates would wait for the export.
    """
    incident_service.get_incident(session=session, incident_id=incident_id)

    def produce(out: TextIO) -> int:
        with factory() as export_session:
            incident = incident_service.get_incident(
                session=export_session, incident_id=incident_id
            )
            return impact_export.export(session=export_session, incident=incident, out=out, fmt=fmt)

    filename = f"incident-{incident_id}-impact.{fmt}"
    return StreamingResponse(
        stream_writes(produce, name=f"export-incident-{incident_id}"),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
