"""API and ``--json`` shapes of incident facts and of an audit request."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from amends.facts.kinds import CauseOwner, DataKind, Exposure
from amends.facts.models import IncidentFacts


class FactsIn(BaseModel):
    """Facts to set; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    what_failed: str | None = None
    customer_effect: str | None = None
    root_cause: str | None = Field(default=None, description="In plain words, for customers.")
    cause_owner: CauseOwner | None = None
    actions_taken: list[str] | None = None
    actions_planned: list[str] | None = None
    contact_point: str | None = Field(default=None, max_length=300)
    signatory: str | None = Field(
        default=None, max_length=200, description='Who signs the apology ("Ana Ruiz, CEO").'
    )
    lang: str | None = Field(
        default=None, description="The texts given are this language's translation (e.g. es)."
    )


class ExposureIn(BaseModel):
    """The data-exposure assessment: ``none`` needs ``signed_off_by``;
    ``confirmed`` needs ``data_kinds``."""

    model_config = ConfigDict(extra="forbid")

    exposure: Exposure
    data_kinds: list[DataKind] = Field(default_factory=list)
    signed_off_by: str | None = Field(default=None, max_length=200)


class FactsOut(BaseModel):
    incident_id: int
    what_failed: str
    customer_effect: str
    root_cause: str
    cause_owner: CauseOwner | None
    actions_taken: list[str]
    actions_planned: list[str]
    exposure: Exposure
    exposed_data: list[DataKind]
    exposure_signed_off_by: str | None
    exposure_signed_off_at: dt.datetime | None
    contact_point: str
    signatory: str = ""
    translations: dict[str, dict[str, Any]] = {}

    @classmethod
    def of(cls, facts: IncidentFacts) -> FactsOut:
        return cls(
            incident_id=facts.incident_id,
            what_failed=facts.what_failed,
            customer_effect=facts.customer_effect,
            root_cause=facts.root_cause,
            cause_owner=facts.cause_owner,
            actions_taken=list(facts.actions_taken),
            actions_planned=list(facts.actions_planned),
            exposure=facts.exposure,
            exposed_data=[DataKind(k) for k in facts.exposed_data],
            translations=dict(facts.translations or {}),
            exposure_signed_off_by=facts.exposure_signed_off_by,
            exposure_signed_off_at=facts.exposure_signed_off_at,
            contact_point=facts.contact_point,
            signatory=facts.signatory or "",
        )
