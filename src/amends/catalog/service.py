"""Operations on the catalog. Take a session, flush, never commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from amends.catalog.models import (
    CHANNELS,
    Component,
    ComponentDependency,
    Customer,
    Site,
    Subscriber,
    SubscriberKind,
)
from amends.catalog.records import CustomerRecord, normalise_email, normalise_phone
from amends.db import utcnow
from amends.errors import Conflict, NotFound, ValidationFailed

# -- components -------------------------------------------------------------


def list_components(*, session: Session) -> Sequence[Component]:
    """By group, then position and key; ungrouped last on every backend (SQLite
    would sort NULL first and PostgreSQL last if not told)."""
    return session.scalars(
        select(Component).order_by(
            Component.group_name.asc().nulls_last(), Component.position, Component.key
        )
    ).all()


def get_component(*, session: Session, key: str) -> Component:
    component = session.scalar(select(Component).where(Component.key == key))
    if component is None:
        raise NotFound(f"no component {key!r}", field="component")
    return component


def components_by_key(*, session: Session, keys: Iterable[str]) -> dict[str, Component]:
    """Resolve keys to components, naming the first unknown one."""
    wanted = set(keys)
    found = {c.key: c for c in session.scalars(select(Component).where(Component.key.in_(wanted)))}
    missing = sorted(wanted - found.keys())
    if missing:
        raise NotFound(f"no component {missing[0]!r}", field="components")
    return found


def save_component(
    *,
    session: Session,
    key: str,
    name: str | None = None,
    group: str | None = None,
    description: str | None = None,
    position: int | None = None,
    depends_on: Sequence[str] | None = None,
    created_at: dt.datetime | None = None,
) -> Component:
    """Create or change a component; ``depends_on`` replaces its dependencies.

    ``created_at`` starts the component's lifetime, which availability is
    clipped to: give it when registering a service that has existed for years,
    or its track record starts today.
    """
    component = session.scalar(select(Component).where(Component.key == key))
    if component is None:
        if not key or len(key) > 64 or not key.replace("-", "").replace("_", "").isalnum():
            raise ValidationFailed(
                "component key must be 1-64 letters, digits, '-' or '_'", field="key"
            )
        component = Component(key=key, name=name or key, description="", position=0)
        session.add(component)
    if name is not None:
        component.name = name
    if group is not None:
        component.group_name = group or None
    if description is not None:
        component.description = description
    if position is not None:
        component.position = position
    if created_at is not None:
        if created_at.tzinfo is None:
            raise ValidationFailed("created_at needs a time zone offset", field="created_at")
        component.created_at = created_at
    session.flush()
    if depends_on is not None:
        _set_dependencies(session, component, depends_on)
    return component


def _set_dependencies(session: Session, component: Component, keys: Sequence[str]) -> None:
    targets = components_by_key(session=session, keys=keys)
    if component.key in targets:
        raise ValidationFailed(f"{component.key!r} cannot depend on itself", field="depends_on")
    # A cycle would make "what fails with X" unbounded: refuse it.
    dependents = dependency_closure(session=session, component_ids=[component.id])
    for target in targets.values():
        if target.id in dependents:
            raise ValidationFailed(
                f"{component.key!r} -> {target.key!r} would make a dependency cycle",
                field="depends_on",
            )
    session.execute(
        delete(ComponentDependency).where(ComponentDependency.component_id == component.id)
    )
    session.add_all(
        ComponentDependency(component_id=component.id, depends_on_id=t.id) for t in targets.values()
    )
    session.flush()
    session.expire(component, ["depends_on"])


def dependency_closure(*, session: Session, component_ids: Iterable[int]) -> set[int]:
    """The failed components and everything that depends on them, transitively.

    A recursive CTE, so the whole graph walk happens in the database.
    """
    ids = list(component_ids)
    if not ids:
        return set()
    seeds = select(Component.id).where(Component.id.in_(ids)).cte("affected", recursive=True)
    walk = seeds.union(
        select(ComponentDependency.component_id).where(
            ComponentDependency.depends_on_id == seeds.c.id
        )
    )
    return set(session.scalars(select(walk.c.id)))


def delete_component(*, session: Session, key: str) -> None:
    """Remove a component nothing refers to.

    Refused while sites use it, while other components depend on it (removing
    it would silently drop their dependency, and with it who an outage hits),
    or while incident history names it (the history is the record of what
    failed). The last is caught from the database's own constraint, inside a
    savepoint, because the catalog sits below incidents and cannot ask them.
    """
    component = get_component(session=session, key=key)
    from amends.catalog.models import SiteComponent

    used = session.scalar(
        select(func.count())
        .select_from(SiteComponent)
        .where(SiteComponent.component_id == component.id)
    )
    if used:
        raise Conflict(f"component {key!r} is used by {used} sites", field="component")
    dependents = session.scalars(
        select(Component.key)
        .join(ComponentDependency, ComponentDependency.component_id == Component.id)
        .where(ComponentDependency.depends_on_id == component.id)
        .order_by(Component.key)
    ).all()
    if dependents:
        raise Conflict(f"component {key!r} is needed by {', '.join(dependents)}", field="component")
    try:
        with session.begin_nested():
            session.delete(component)
    except IntegrityError:
        raise Conflict(
            f"component {key!r} is named in incident history and cannot be removed",
            field="component",
        ) from None


# -- customers and sites ----------------------------------------------------


def get_customer(*, session: Session, external_id: str) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.external_id == external_id))
    if customer is None:
        raise NotFound(f"no customer {external_id!r}", field="customer")
    return customer


def list_customers(
    *, session: Session, limit: int = 100, after: str | None = None, tier: str | None = None
) -> Sequence[Customer]:
    """Keyset pagination by external id: stable and cheap at millions of rows."""
    query = select(Customer).order_by(Customer.external_id).limit(limit)
    if after is not None:
        query = query.where(Customer.external_id > after)
    if tier is not None:
        query = query.where(Customer.tier == tier)
    return session.scalars(query).all()


def count_customers(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Customer)) or 0


def count_sites(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Site)) or 0


def sites_of(*, session: Session, customer: Customer) -> Sequence[Site]:
    return session.scalars(
        select(Site).where(Site.customer_id == customer.id).order_by(Site.external_id)
    ).all()


def upsert_customer(*, session: Session, record: CustomerRecord) -> Customer:
    """Create or update one customer. Opt-outs only ever get added here."""
    customer = session.scalar(select(Customer).where(Customer.external_id == record.external_id))
    if customer is None:
        customer = Customer(external_id=record.external_id, created_at=utcnow())
        for channel in CHANNELS:
            setattr(customer, f"opt_out_{channel}", False)
        session.add(customer)
    customer.name = record.name
    customer.email = record.email
    customer.phone = record.phone
    customer.locale = record.locale
    customer.timezone = record.timezone
    customer.tier = record.tier
    for channel in CHANNELS:
        setattr(customer, f"notify_{channel}", channel in record.channels)
        if channel in record.opt_out:
            setattr(customer, f"opt_out_{channel}", True)
    customer.updated_at = utcnow()
    session.flush()
    return customer


def set_opt_out(*, session: Session, external_id: str, channel: str, opted_out: bool) -> Customer:
    """The customer's own choice: the only path that clears an opt-out."""
    if channel not in CHANNELS:
        raise ValidationFailed(f"unknown channel {channel!r}", field="channel")
    customer = get_customer(session=session, external_id=external_id)
    setattr(customer, f"opt_out_{channel}", opted_out)
    customer.updated_at = utcnow()
    session.flush()
    return customer


# -- subscribers ------------------------------------------------------------


def add_subscriber(
    *,
    session: Session,
    kind: SubscriberKind,
    address: str,
    components: Sequence[str] = (),
    locale: str = "en",
    confirmed: bool = False,
) -> Subscriber:
    address = _normalise_address(kind, address)
    existing = session.scalar(
        select(Subscriber).where(Subscriber.kind == kind, Subscriber.address == address)
    )
    if existing is not None:
        raise Conflict(f"{kind} subscriber {address!r} exists", field="address")
    chosen = components_by_key(session=session, keys=components) if components else {}
    subscriber = Subscriber(kind=kind, address=address, locale=locale, confirmed=confirmed)
    subscriber.components = list(chosen.values())
    session.add(subscriber)
    session.flush()
    return subscriber


def _normalise_address(kind: SubscriberKind, address: str) -> str:
    try:
        if kind is SubscriberKind.email:
            value = normalise_email(address)
        elif kind is SubscriberKind.sms:
            value = normalise_phone(address)
        else:
            value = address.strip()
            if not value.startswith(("https://", "http://")):
                raise ValueError("a webhook address must be an http(s) URL")
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="address") from None
    if not value:
        raise ValidationFailed("address is empty", field="address")
    return value


def list_subscribers(*, session: Session) -> Sequence[Subscriber]:
    return session.scalars(select(Subscriber).order_by(Subscriber.id)).all()


def remove_subscriber(*, session: Session, subscriber_id: int) -> None:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFound(f"no subscriber {subscriber_id}", field="subscriber")
    session.delete(subscriber)
    session.flush()


def normalise_address(kind: SubscriberKind, address: str) -> str:
    """A subscriber's address as stored (e-mail normalised, phone in E.164);
    ValidationFailed naming ``address`` otherwise."""
    return _normalise_address(kind, address)
