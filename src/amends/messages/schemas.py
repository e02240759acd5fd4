"""API shapes of the messages domain."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from amends.facts.kinds import CauseOwner, Exposure


class AuditIn(BaseModel):
    """A message to audit, with the facts to judge it against (all optional)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=100_000)
    lang: str = Field(description="es or en (a region is ignored: es-MX → es)")
    kind: str = Field(default="apology", description="apology, breach_notice or notice")
    incident_id: int | None = Field(
        default=None, description="Judge against this incident's recorded facts."
    )
    cause_owner: CauseOwner | None = None
    exposure: Exposure | None = None
    exposure_signed_off: bool = False
    measured_availability: Decimal | None = Field(
        default=None, ge=0, le=100, description="Measured availability in percent."
    )
    forms: dict[str, str] = Field(
        default_factory=dict,
        max_length=10,
        description='The same message on other channels ({"sms": …, "voice": …}): rule S4 '
        "checks they state no amount, percentage or time the text does not.",
    )
