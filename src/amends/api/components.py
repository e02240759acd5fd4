"""Components: the things that can fail, and what each depends on.

Reading them needs no key: a public status page shows exactly this (names,
groups, current status), and nothing here is personal data. Changing them
needs a ``write`` key.
"""

from __future__ import annotations

from fastapi import APIRouter

from amends.api.auth import AUTH_ERRORS, Writer
from amends.api.deps import SessionDep
from amends.catalog import service as catalog_service
from amends.catalog.models import Component
from amends.catalog.schemas import ComponentIn, ComponentOut
from amends.incidents import service as incident_service
from amends.incidents.models import ComponentStatus

router = APIRouter(tags=["components"])


class ComponentWithStatus(ComponentOut):
    """A component and its status now: the worst across open incidents.

    Defined here, not in the catalog, because the status comes from incidents,
    which sit above the catalog.
    """

    status: ComponentStatus

    @classmethod
    def of_status(cls, component: Component, status: ComponentStatus) -> ComponentWithStatus:
        return cls(**ComponentOut.of(component).model_dump(), status=status)


@router.get("/components")
def list_components(session: SessionDep) -> list[ComponentWithStatus]:
    """Every component with its current status, by group and position. No key needed."""
    statuses = incident_service.component_statuses(session=session)
    return [
        ComponentWithStatus.of_status(c, statuses[c.key])
        for c in catalog_service.list_components(session=session)
    ]


@router.get("/status")
def component_statuses(session: SessionDep) -> dict[str, ComponentStatus]:
    """Each component's status now, by key: the cheapest poll. No key needed."""
    return incident_service.component_statuses(session=session)


@router.get("/components/{key}")
def get_component(key: str, session: SessionDep) -> ComponentWithStatus:
    """One component with its current status. No key needed."""
    component = catalog_service.get_component(session=session, key=key)
    statuses = incident_service.component_statuses(session=session)
    return ComponentWithStatus.of_status(component, statuses[component.key])


@router.put("/components/{key}", dependencies=[Writer], responses=AUTH_ERRORS)
def save_component(key: str, body: ComponentIn, session: SessionDep) -> ComponentOut:
    """Create or change a component (idempotent: PUT the same body twice, same result).

    Fields left out keep their value; ``depends_on``, when given, replaces the
    whole list. A dependency cycle is refused (422), since "what fails with
    X" would have no end.
    """
    component = catalog_service.save_component(
        session=session,
        key=key,
        name=body.name,
        group=body.group,
        description=body.description,
        position=body.position,
        depends_on=body.depends_on,
    )
    return ComponentOut.of(component)


@router.delete("/components/{key}", status_code=204, dependencies=[Writer], responses=AUTH_ERRORS)
def delete_component(key: str, session: SessionDep) -> None:
    """Refused with 409 while a site uses it, another component depends on it,
    or an incident's history names it."""
    catalog_service.delete_component(session=session, key=key)
