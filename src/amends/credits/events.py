"""Webhook event payloads for the billing hand-off: ``credit.issued``, ``credit.redeemed``.

Standard Webhooks shape: ``type``, ``timestamp``, ``data``. An outbox event
(:mod:`amends.credits.webhooks`) names up to 1,000 credits; its payload lists
them in ``data.credits``. Built when sent, from columns that never change once
the event exists (amounts, ids, the stamp of the change), so a retry carries
the same facts. No personal data: external ids and amounts only — never a
name, an e-mail address or a phone number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends.catalog.models import Customer, Site
from amends.credits.models import Credit, CreditWebhookEvent

EventType = Literal["credit.issued", "credit.redeemed", "credit.applied", "credit.expired"]


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def _item(credit: Credit, customer: str, site: str) -> dict[str, Any]:
    return {
        "credit_id": credit.id,
        "incident_id": credit.incident_id,
        "customer_external_id": customer,
        "site_external_id": site,
        "amount_minor": credit.amount_minor,
        "currency": credit.currency,
        "auto_apply": credit.auto_apply,
        "available_at": _iso(credit.available_at),
        "expires_at": _iso(credit.expires_at),
        "redeemed_at": _iso(credit.redeemed_at),
    }


def _credits(session: Session) -> Any:
    return (
        select(Credit, Customer.external_id, Site.external_id)
        .join(Customer, Customer.id == Credit.customer_id)
        .join(Site, Site.id == Credit.site_id)
    )


def credit_event(
    kind: EventType, *, session: Session, credit_id: int, at: dt.datetime
) -> dict[str, Any]:
    """One credit as an event (for a single credit's history)."""
    credit, customer, site = session.execute(_credits(session).where(Credit.id == credit_id)).one()
    data = _item(credit, customer, site)
    data["state"] = str(credit.state)
    return {"type": kind, "timestamp": _iso(at), "data": data}


def payloads(*, session: Session, event_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The payload of each outbox event (a missing id is left out)."""
    out: dict[int, dict[str, Any]] = {}
    events = session.scalars(
        select(CreditWebhookEvent).where(CreditWebhookEvent.id.in_(list(event_ids)))
    )
    for event in events:
        stamp = Credit.issued_at if event.type == "credit.issued" else Credit.redeemed_at
        query = _credits(session).where(
            Credit.incident_id == event.incident_id,
            Credit.id.between(event.first_credit_id, event.last_credit_id),
            stamp == event.at,
        )
        if event.customer_id is not None:
            query = query.where(Credit.customer_id == event.customer_id)
        items = [_item(*row) for row in session.execute(query.order_by(Credit.id))]
        totals: dict[str, int] = {}
        for item in items:
            totals[item["currency"]] = totals.get(item["currency"], 0) + item["amount_minor"]
        data: dict[str, Any] = {
            "event_id": event.id,
            "incident_id": event.incident_id,
            "count": len(items),
            "totals_minor": dict(sorted(totals.items())),
            "credits": items,
        }
        if event.customer_id is not None and items:
            data["customer_external_id"] = items[0]["customer_external_id"]
        out[event.id] = {"type": event.type, "timestamp": _iso(event.at), "data": data}
    return out
