"""Webhook event payloads for the billing hand-off: ``credit.issued``, ``credit.redeemed``.

Only the payload is built here (Standard Webhooks shape: ``type``,
``timestamp``, ``data``); signing and delivery belong to the delivery ledger.
No personal data: external ids and amounts only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends.catalog.models import Customer, Site
from amends.credits.models import Credit

EventType = Literal["credit.issued", "credit.redeemed", "credit.applied", "credit.expired"]


def credit_event(
    kind: EventType, *, session: Session, credit_id: int, at: dt.datetime
) -> dict[str, Any]:
    row = session.execute(
        select(Credit, Customer.external_id, Site.external_id)
        .join(Customer, Customer.id == Credit.customer_id)
        .join(Site, Site.id == Credit.site_id)
        .where(Credit.id == credit_id)
    ).one()
    credit, customer, site = row
    return {
        "type": kind,
        "timestamp": at.astimezone(dt.UTC).isoformat(),
        "data": {
            "credit_id": credit.id,
            "incident_id": credit.incident_id,
            "customer_external_id": customer,
            "site_external_id": site,
            "amount_minor": credit.amount_minor,
            "currency": credit.currency,
            "state": str(credit.state),
            "available_at": credit.available_at.isoformat(),
            "redeemed_at": credit.redeemed_at.isoformat() if credit.redeemed_at else None,
        },
    }
