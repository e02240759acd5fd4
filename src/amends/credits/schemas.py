"""Shapes of the billing endpoints, shared by the API and ``amends credits webhook --json``."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from amends.credits.models import BillingEndpoint


class BillingEndpointIn(BaseModel):
    url: str = Field(max_length=2048, description="The billing system's http(s) URL")
    description: str = Field(default="", max_length=200)


class BillingEndpointOut(BaseModel):
    """An endpoint as listed: never its secret."""

    id: int
    url: str
    description: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    consecutive_failures: int

    @classmethod
    def of(cls, row: BillingEndpoint) -> BillingEndpointOut:
        return cls(
            id=row.id,
            url=row.url,
            description=row.description,
            created_at=row.created_at,
            disabled_at=row.disabled_at,
            consecutive_failures=row.consecutive_failures,
        )


class BillingEndpointCreated(BillingEndpointOut):
    """The creation answer: the only place the signing secret ever appears."""

    secret: str = Field(description="Standard Webhooks secret (whsec_…): verify every event")
