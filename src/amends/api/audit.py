"""``POST /api/v1/audit``: judge any message against the apology rules.

Reading only (``read`` scope): the audit changes nothing. The response is the
same report ``amends audit --json`` prints.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from amends.api.auth import AUTH_ERRORS, Reader
from amends.api.deps import SessionDep
from amends.messages.audit import audit, gate
from amends.messages.schemas import AuditIn

router = APIRouter(tags=["audit"], responses=AUTH_ERRORS)


@router.post("/audit", dependencies=[Reader])
def audit_message(body: AuditIn, session: SessionDep) -> dict[str, Any]:
    """Findings per rule (pass / info / warn / block, evidence, fix, basis), the
    seven steps and the five practices; ``blocked`` is true when something blocks."""
    facts = gate.facts_for_audit(
        session=session,
        incident_id=body.incident_id,
        cause_owner=body.cause_owner,
        exposure=body.exposure,
        exposure_signed_off=body.exposure_signed_off,
        measured_availability=body.measured_availability,
    )
    return audit(body.text, body.lang, kind=body.kind, facts=facts, forms=body.forms).to_dict()
