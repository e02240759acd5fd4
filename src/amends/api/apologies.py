"""``POST /incidents/{id}/apology``: owe the affected customers the apology.

The same step as ``amends incident apologise``: audited per language first
(a blocking finding is a 409 unless ``override_by`` and ``reason`` are given,
and then it is recorded); each customer's message is composed when sent.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, ConfigDict, Field

from amends import flows
from amends.api.auth import AUTH_ERRORS, Writer
from amends.api.deliveries import kick
from amends.api.deps import SessionDep
from amends.delivery.models import NoticeKind

router = APIRouter(tags=["incidents"], responses=AUTH_ERRORS)


class ApologyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    breach: bool = Field(default=False, description="The breach notice (exposure confirmed).")
    override_by: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=2000)


@router.post("/incidents/{incident_id}/apology", status_code=201, dependencies=[Writer])
def apologise(
    incident_id: int,
    body: ApologyIn,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Owe the seven-step apology (or the breach notice); returns the audit per language."""
    settings = request.app.state.settings
    result, reports = flows.apologise(
        session=session,
        incident_id=incident_id,
        company=settings.notice_sender,
        public_url=settings.public_url,
        override_by=body.override_by,
        override_reason=body.reason,
        kind=NoticeKind.breach if body.breach else NoticeKind.apology,
    )
    background.add_task(kick, request)
    return {
        "notice_id": result.notice.id,
        "kind": result.notice.kind.value,
        "deliveries": result.deliveries,
        "audit": {lang: report.to_dict() for lang, report in reports.items()},
    }
