"""Customers and their sites: personal data, so even reading needs a key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from amends.api.auth import Reader, Writer
from amends.api.deps import SessionDep
from amends.catalog import service as catalog_service
from amends.catalog.records import CustomerRecord
from amends.catalog.schemas import CustomerDetail, CustomerOut, CustomerPage, OptOutIn

router = APIRouter(tags=["customers"])


@router.get("/customers", dependencies=[Reader])
def list_customers(
    session: SessionDep,
    after: Annotated[str | None, Query(description="`next_after` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    tier: str | None = None,
) -> CustomerPage:
    customers = catalog_service.list_customers(session=session, limit=limit, after=after, tier=tier)
    items = [CustomerOut.of(c) for c in customers]
    next_after = items[-1].external_id if len(items) == limit else None
    return CustomerPage(items=items, next_after=next_after)


@router.get("/customers/{external_id}", dependencies=[Reader])
def get_customer(external_id: str, session: SessionDep) -> CustomerDetail:
    customer = catalog_service.get_customer(session=session, external_id=external_id)
    sites = catalog_service.sites_of(session=session, customer=customer)
    return CustomerDetail.with_sites(customer, sites)


@router.post("/customers", dependencies=[Writer])
def upsert_customer(record: CustomerRecord, session: SessionDep) -> CustomerOut:
    """Create or update one customer, validated exactly like an imported row.

    Opt-outs in the body are added, never cleared: only the customer's own
    choice (``PUT .../opt-out/{channel}``) clears one.
    """
    return CustomerOut.of(catalog_service.upsert_customer(session=session, record=record))


@router.put("/customers/{external_id}/opt-out/{channel}", dependencies=[Writer])
def set_opt_out(external_id: str, channel: str, body: OptOutIn, session: SessionDep) -> CustomerOut:
    customer = catalog_service.set_opt_out(
        session=session, external_id=external_id, channel=channel, opted_out=body.opted_out
    )
    return CustomerOut.of(customer)
