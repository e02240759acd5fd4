"""The facts an audit is judged against: an incident's recorded ones, or those given."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from amends.errors import ValidationFailed
from amends.facts import service as facts_service
from amends.facts.kinds import CauseOwner, Exposure
from amends.facts.models import IncidentFacts
from amends.messages.audit.facts import AuditFacts


def audit_facts(
    facts: IncidentFacts, *, measured_availability: Decimal | None = None
) -> AuditFacts:
    """The facts as the auditor needs them."""
    return AuditFacts(
        cause_owner=facts.cause_owner,
        exposure=facts.exposure,
        exposure_signed_off=bool(facts.exposure_signed_off_by and facts.exposure_signed_off_at),
        measured_availability=measured_availability,
    )


def facts_for_audit(
    *,
    session: Session | None,
    incident_id: int | None = None,
    cause_owner: CauseOwner | None = None,
    exposure: Exposure | None = None,
    exposure_signed_off: bool = False,
    measured_availability: Decimal | None = None,
) -> AuditFacts:
    """The facts to audit against: an incident's recorded ones, or those given.

    A recorded assessment wins over a claimed one: a caller cannot unlock the
    reassurance of an incident by saying "signed off".
    """
    if incident_id is not None:
        if session is None:
            raise ValidationFailed("auditing against an incident needs the database")
        facts = facts_service.get_facts(session=session, incident_id=incident_id)
        return audit_facts(facts, measured_availability=measured_availability)
    return AuditFacts(
        cause_owner=cause_owner,
        exposure=exposure,
        exposure_signed_off=exposure_signed_off and exposure is Exposure.none,
        measured_availability=measured_availability,
    )
