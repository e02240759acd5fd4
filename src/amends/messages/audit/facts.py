"""The facts a draft is judged against, when the operator has them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from amends.facts.kinds import CauseOwner, Exposure


@dataclass(frozen=True, slots=True)
class AuditFacts:
    """Optional: without facts, fact-dependent rules assume the worst they cannot
    rule out (a reassurance with no signed-off assessment blocks)."""

    cause_owner: CauseOwner | None = None
    exposure: Exposure | None = None
    exposure_signed_off: bool = False
    measured_availability: Decimal | None = None  # percent, e.g. Decimal("99.95")


NO_FACTS = AuditFacts()
