"""Small builders for test data, through the real services."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.orm import Session

from amends.catalog import service as catalog_service
from amends.catalog.models import Customer, Site, SiteComponent, SiteState
from amends.catalog.records import CustomerRecord

T0 = dt.datetime(2012, 9, 10, 17, 25, tzinfo=dt.UTC)
_ids = itertools.count(1)


def hosting_catalog(session: Session) -> None:
    """The 2012 provider: web hosting and e-mail need DNS; the builder needs hosting."""
    catalog_service.save_component(session=session, key="dns", name="DNS", group="Core")
    catalog_service.save_component(session=session, key="domains", name="Domains", group="Core")
    catalog_service.save_component(
        session=session, key="web-hosting", name="Web hosting", depends_on=["dns"]
    )
    catalog_service.save_component(
        session=session, key="email", name="E-mail", depends_on=["dns"]
    )
    catalog_service.save_component(
        session=session, key="website-builder", name="Website builder", depends_on=["web-hosting"]
    )


def customer(session: Session, **overrides: object) -> Customer:
    n = next(_ids)
    fields: dict[str, object] = {
        "external_id": f"cust-{n}",
        "name": f"Customer {n}",
        "email": f"c{n}@example.com",
        "locale": "es",
        "tier": "standard",
    }
    fields.update(overrides)
    return catalog_service.upsert_customer(session=session, record=CustomerRecord(**fields))


def site(
    session: Session,
    owner: Customer,
    components: list[str],
    *,
    state: SiteState = SiteState.active,
    started: dt.datetime = T0 - dt.timedelta(days=365),
    ended: dt.datetime | None = None,
    price: int = 999,
) -> Site:
    n = next(_ids)
    found = catalog_service.components_by_key(session=session, keys=components)
    row = Site(
        external_id=f"site-{n}",
        customer_id=owner.id,
        domain=f"site{n}.example",
        plan="basic",
        monthly_price_minor=price,
        currency="EUR",
        state=state,
        service_started_at=started,
        service_ended_at=ended,
    )
    session.add(row)
    session.flush()
    session.add_all(SiteComponent(site_id=row.id, component_id=c.id) for c in found.values())
    session.flush()
    return row
