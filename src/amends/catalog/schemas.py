"""How the catalog looks to the outside: API bodies and the CLI's ``--json``.

Incoming customers use :class:`amends.catalog.records.CustomerRecord` itself,
so a customer sent to the API is judged exactly like one in an import file.
Outgoing shapes are built with ``of()`` from ORM rows while the session is
still open, so nothing lazy-loads after the unit of work has ended.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from amends.catalog.models import Component, Customer, Site, SiteState, Subscriber, SubscriberKind
from amends.catalog.records import LocaleName

ComponentKey = Annotated[str, Field(min_length=1, max_length=64)]


class ComponentOut(BaseModel):
    key: str
    name: str
    group: str | None
    description: str
    position: int
    depends_on: list[str]
    created_at: dt.datetime

    @classmethod
    def of(cls, component: Component) -> ComponentOut:
        return cls(
            key=component.key,
            name=component.name,
            group=component.group_name,
            description=component.description,
            position=component.position,
            depends_on=[c.key for c in component.depends_on],
            created_at=component.created_at,
        )


class ComponentIn(BaseModel):
    """Create or change a component. A field left out keeps its value;
    ``depends_on``, when given, replaces the whole list."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    group: Annotated[str | None, Field(max_length=200)] = None
    description: str | None = None
    position: int | None = None
    depends_on: list[ComponentKey] | None = None


class SiteOut(BaseModel):
    external_id: str
    domain: str
    plan: str
    state: SiteState
    monthly_price_minor: int
    currency: str
    components: list[str]
    service_started_at: dt.datetime
    service_ended_at: dt.datetime | None

    @classmethod
    def of(cls, site: Site) -> SiteOut:
        return cls(
            external_id=site.external_id,
            domain=site.domain,
            plan=site.plan,
            state=site.state,
            monthly_price_minor=site.monthly_price_minor,
            currency=site.currency,
            components=[c.key for c in site.components],
            service_started_at=site.service_started_at,
            service_ended_at=site.service_ended_at,
        )


class CustomerOut(BaseModel):
    external_id: str
    name: str
    email: str | None
    phone: str | None
    locale: str
    timezone: str
    tier: str
    channels: list[str] = Field(description="Channels the customer wants notices on.")
    opt_out: list[str] = Field(description="Channels the customer refused; never cleared by us.")
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, customer: Customer) -> CustomerOut:
        return cls(
            external_id=customer.external_id,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            locale=customer.locale,
            timezone=customer.timezone,
            tier=customer.tier,
            channels=customer.channels(),
            opt_out=customer.opted_out(),
            created_at=customer.created_at,
            updated_at=customer.updated_at,
        )


class CustomerDetail(CustomerOut):
    sites: list[SiteOut]

    @classmethod
    def with_sites(cls, customer: Customer, sites: Sequence[Site]) -> CustomerDetail:
        return cls(**CustomerOut.of(customer).model_dump(), sites=[SiteOut.of(s) for s in sites])


class CustomerPage(BaseModel):
    """One page of customers in ``external_id`` order.

    ``next_after`` is the cursor for the next page (pass it as ``?after=``);
    it is null on the last page. Keyset pagination stays fast at millions of
    rows, where ``OFFSET`` would scan everything it skips.
    """

    items: list[CustomerOut]
    next_after: str | None


class OptOutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opted_out: bool = True


class SubscriberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SubscriberKind
    address: Annotated[str, Field(min_length=1, max_length=2048)]
    components: list[ComponentKey] = Field(
        default_factory=list, description="Empty: follow every component."
    )
    locale: LocaleName = "en"
    confirmed: bool = False


class SubscriberOut(BaseModel):
    id: int
    kind: SubscriberKind
    address: str
    locale: str
    confirmed: bool
    components: list[str]
    created_at: dt.datetime

    @classmethod
    def of(cls, subscriber: Subscriber) -> SubscriberOut:
        return cls(
            id=subscriber.id,
            kind=subscriber.kind,
            address=subscriber.address,
            locale=subscriber.locale,
            confirmed=subscriber.confirmed,
            components=[c.key for c in subscriber.components],
            created_at=subscriber.created_at,
        )
