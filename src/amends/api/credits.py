"""Credits over HTTP: policies, preview and issue per incident, reports, the billing hand-off.

Billing pulls ``GET /credits?state=redeemed&since=…`` page by page (an opaque
cursor), puts the credits on invoices, then acknowledges them with ``POST
/credits/applied`` (idempotent), or takes ``/credits/export.csv``.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from amends.api.auth import AUTH_ERRORS, Reader, Writer
from amends.api.deps import SessionDep
from amends.availability.service import rules_from
from amends.credits import issuance, policies, preview
from amends.credits import service as ledger
from amends.credits.models import CreditState
from amends.errors import ValidationFailed
from amends.incidents import service as incident_service

router = APIRouter(tags=["credits"], responses=AUTH_ERRORS)


class PolicyOut(BaseModel):
    key: str
    version: int
    kind: str
    document: str


class CreditPage(BaseModel):
    credits: list[dict[str, Any]]
    next_cursor: str | None


class Acknowledge(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=100_000)


class IssueRequest(BaseModel):
    policy: str = Field(description="Stored policy key, key@version, or a built-in name")


def _policy_out(row: Any) -> PolicyOut:
    return PolicyOut(key=row.key, version=row.version, kind=row.kind, document=row.document)


@router.post("/credit-policies", dependencies=[Writer], status_code=201)
def add_policy(
    session: SessionDep, document: Annotated[str, Body(media_type="application/toml")]
) -> PolicyOut:
    """Store a TOML policy as its key's next version (the same document keeps its version)."""
    return _policy_out(policies.save(session=session, document=document, source="request body"))


@router.get("/credit-policies", dependencies=[Reader])
def list_policies(session: SessionDep) -> list[PolicyOut]:
    return [_policy_out(r) for r in policies.list_policies(session=session)]


@router.get("/incidents/{incident_id}/credits/preview", dependencies=[Reader])
def preview_credits(
    incident_id: int, policy: str, request: Request, session: SessionDep
) -> dict[str, Any]:
    """Totals, distribution, examples and the research's warnings (C1–C5); writes nothing."""
    parsed, label = policies.peek(session=session, name=policy)
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    return preview.preview(
        session=session, incident=incident, policy=parsed, name=label,
        rules=rules_from(request.app.state.settings),
    ).as_dict()  # fmt: skip


@router.post("/incidents/{incident_id}/credits", dependencies=[Writer])
def issue_credits(
    incident_id: int, body: IssueRequest, request: Request, session: SessionDep
) -> dict[str, Any]:
    """Issue the incident's credits; repeating the call adds nothing."""
    row = policies.choose(session=session, name=body.policy)
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    parsed = policies.load(row)
    rules = rules_from(request.app.state.settings)
    blocked = preview.blocking(
        session=session, incident=incident, policy=parsed, name=row.key, rules=rules
    )
    if blocked:
        raise ValidationFailed(f"{blocked[0].rule}: {blocked[0].message}", field="policy")
    result = issuance.issue(
        session=session, incident=incident, policy_row=row, policy=parsed, actor="api", rules=rules
    )
    return {"created": result.created, "policy": result.policy}


@router.get("/incidents/{incident_id}/credits/report", dependencies=[Reader])
def report(incident_id: int, session: SessionDep) -> dict[str, Any]:
    """Issued, available, redeemed, applied, expired, void: count and value by currency."""
    incident_service.get_incident(session=session, incident_id=incident_id)
    return ledger.report(session=session, incident_id=incident_id)


@router.get("/credits", dependencies=[Reader])
def list_credits(
    session: SessionDep,
    state: CreditState | None = None,
    since: dt.datetime | None = None,
    incident: int | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> CreditPage:
    """Credits in id order; ``since`` filters on the time the credit reached ``state``."""
    if since is not None and since.tzinfo is None:
        raise ValidationFailed("since needs a time zone offset", field="since")
    rows, following = ledger.billing_page(
        session=session, state=state, since=since, incident_id=incident, cursor=cursor, limit=limit
    )
    return CreditPage(credits=rows, next_cursor=following)


@router.post("/credits/applied", dependencies=[Writer])
def acknowledge(body: Acknowledge, session: SessionDep) -> dict[str, int]:
    """Billing applied these redeemed credits: mark them ``applied`` (repeats are ignored)."""
    return ledger.acknowledge(session=session, ids=body.ids, actor="billing-api")


@router.get("/credits/export.csv", dependencies=[Reader], response_class=Response)
def export_csv(
    session: SessionDep,
    state: CreditState | None = None,
    incident: int | None = None,
    since: dt.datetime | None = None,
) -> Response:
    """Every matching credit as CSV (for billing systems that take files)."""
    out = io.StringIO()
    ledger.export_csv(session=session, out=out, state=state, incident_id=incident, since=since)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")
