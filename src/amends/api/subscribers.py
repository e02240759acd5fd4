"""Subscribers: people and systems following the status without being customers."""

from __future__ import annotations

from fastapi import APIRouter

from amends.api.auth import Reader, Writer
from amends.api.deps import SessionDep
from amends.catalog import service as catalog_service
from amends.catalog.schemas import SubscriberIn, SubscriberOut

router = APIRouter(tags=["subscribers"])


@router.get("/subscribers", dependencies=[Reader])
def list_subscribers(session: SessionDep) -> list[SubscriberOut]:
    return [SubscriberOut.of(s) for s in catalog_service.list_subscribers(session=session)]


@router.post("/subscribers", status_code=201, dependencies=[Writer])
def add_subscriber(body: SubscriberIn, session: SessionDep) -> SubscriberOut:
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
    catalog_service.remove_subscriber(session=session, subscriber_id=subscriber_id)
