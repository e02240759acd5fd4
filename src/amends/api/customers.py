"""Customers and their sites: personal data, so even reading needs a key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from amends.api.auth import AUTH_ERRORS, Reader, Writer
from amends.api.deps import SessionDep
from amends.catalog import service as catalog_service
from amends.catalog.records import CustomerRecord
from amends.catalog.schemas import CustomerDetail, CustomerOut, CustomerPage, OptOutIn

router = APIRouter(tags=["customers"], responses=AUTH_ERRORS)

MAX_PAGE = 1000


@router.get("/customers", dependencies=[Reader])
def list_customers(
    session: SessionDep,
    after: Annotated[
        str | None, Query(description="`next_after` of the previous page; omit for the first.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    tier: Annotated[str | None, Query(description="Only customers of this tier.")] = None,
) -> CustomerPage:
    """Customers in ``external_id`` order, a page at a time (keyset pagination).

    One row more than asked for is read, so the last page says so
    (``next_after`` null) instead of sending the client to an empty one.
    """
    rows = catalog_service.list_customers(session=session, limit=limit + 1, after=after, tier=tier)
    items = [CustomerOut.of(c) for c in rows[:limit]]
    next_after = items[-1].external_id if len(rows) > limit else None
    return CustomerPage(items=items, next_after=next_after)


@router.get("/customers/{external_id}", dependencies=[Reader])
def get_customer(external_id: str, session: SessionDep) -> CustomerDetail:
    """One customer with every site they hold."""
    customer = catalog_service.get_customer(session=session, external_id=external_id)
    sites = catalog_service.sites_of(session=session, customer=customer)
    return CustomerDetail.with_sites(customer, sites)


@router.post("/customers", dependencies=[Writer])
def upsert_customer(record: CustomerRecord, session: SessionDep) -> CustomerOut:
    """Create or update one customer, validated exactly like an imported row.

    Opt-outs in the body are added, never cleared: only the customer's own
    choice (``PUT .../opt-out/{channel}`` with ``opted_out: false``) clears one.
    """
    return CustomerOut.of(catalog_service.upsert_customer(session=session, record=record))


@router.put("/customers/{external_id}/opt-out/{channel}", dependencies=[Writer])
def set_opt_out(external_id: str, channel: str, body: OptOutIn, session: SessionDep) -> CustomerOut:
    """Record the customer's choice about a channel (``email``, ``sms`` or ``voice``).

    ``opted_out: true`` stops notices on it; ``false`` is the customer opting
    back in, the only way an opt-out is ever cleared. A PUT, not a link: a
    GET never changes anything, since mail scanners follow links.
    """
    customer = catalog_service.set_opt_out(
        session=session, external_id=external_id, channel=channel, opted_out=body.opted_out
    )
    return CustomerOut.of(customer)
