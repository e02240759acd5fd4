"""Subscribers: people and systems following the status without being customers.

Their addresses are personal data, so reading them needs a ``read`` key.
"""

from __future__ import annotations

from fastapi import APIRouter

from amends.api.auth import AUTH_ERRORS, Reader, Writer
from amends.api.deps import SessionDep
from amends.catalog import service as catalog_service
from amends.catalog.schemas import SubscriberIn, SubscriberOut

router = APIRouter(tags=["subscribers"], responses=AUTH_ERRORS)


@router.get("/subscribers", dependencies=[Reader])
def list_subscribers(session: SessionDep) -> list[SubscriberOut]:
    """Every subscriber, oldest first."""
    return [SubscriberOut.of(s) for s in catalog_service.list_subscribers(session=session)]


@router.post("/subscribers", status_code=201, dependencies=[Writer])
def add_subscriber(body: SubscriberIn, session: SessionDep) -> SubscriberOut:
    """Follow some components (or, with none named, all of them).

    The address is normalised (e-mail, E.164 phone, http(s) URL for webhooks);
    the same kind and address twice is a 409.
    """
    subscriber = catalog_service.add_subscriber(
        session=session,
        kind=body.kind,
        address=body.address,
        components=body.components,
        locale=body.locale,
        confirmed=body.confirmed,
    )
    return SubscriberOut.of(subscriber)


@router.delete("/subscribers/{subscriber_id}", status_code=204, dependencies=[Writer])
def remove_subscriber(subscriber_id: int, session: SessionDep) -> None:
    """Stop sending to this subscriber."""
    catalog_service.remove_subscriber(session=session, subscriber_id=subscriber_id)
