"""Billing endpoints for credit events (``credit.issued``, ``credit.redeemed``); admin only.

The same operations as ``amends credits webhook add|list|remove|enable``. The
signing secret is in the creation response only.
"""

from __future__ import annotations

from fastapi import APIRouter

from amends.api.auth import AUTH_ERRORS, Admin
from amends.api.deps import SessionDep
from amends.credits import webhooks
from amends.credits.schemas import BillingEndpointCreated, BillingEndpointIn, BillingEndpointOut

router = APIRouter(tags=["credits"], responses=AUTH_ERRORS)


@router.get("/credits/webhooks", dependencies=[Admin])
def list_endpoints(session: SessionDep) -> list[BillingEndpointOut]:
    """Every billing endpoint, disabled ones too. Never the secret."""
    return [BillingEndpointOut.of(e) for e in webhooks.list_endpoints(session=session)]


@router.post("/credits/webhooks", status_code=201, dependencies=[Admin])
def add_endpoint(body: BillingEndpointIn, session: SessionDep) -> BillingEndpointCreated:
    """Register a billing URL; the answer carries its signing secret, once."""
    row = webhooks.add_endpoint(session=session, url=body.url, description=body.description)
    return BillingEndpointCreated(**BillingEndpointOut.of(row).model_dump(), secret=row.secret)


@router.post("/credits/webhooks/{endpoint_id}/enable", dependencies=[Admin])
def enable_endpoint(endpoint_id: int, session: SessionDep) -> BillingEndpointOut:
    """Switch a disabled endpoint back on (billing fixed its receiver)."""
    return BillingEndpointOut.of(webhooks.enable_endpoint(session=session, endpoint_id=endpoint_id))


@router.delete("/credits/webhooks/{endpoint_id}", dependencies=[Admin])
def remove_endpoint(endpoint_id: int, session: SessionDep) -> BillingEndpointOut:
    """Stop sending credit events to this endpoint."""
    return BillingEndpointOut.of(webhooks.remove_endpoint(session=session, endpoint_id=endpoint_id))
