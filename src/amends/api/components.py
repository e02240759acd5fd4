"""Components: the things that can fail, and what each depends on."""

from __future__ import annotations

from fastapi import APIRouter

from amends.api.auth import Reader, Writer
from amends.api.deps import SessionDep
from amends.catalog import service as catalog_service
from amends.catalog.schemas import ComponentIn, ComponentOut
from amends.incidents import service as incident_service
from amends.incidents.models import ComponentStatus

router = APIRouter(tags=["components"])


@router.get("/components", dependencies=[Reader])
def list_components(session: SessionDep) -> list[ComponentOut]:
    return [ComponentOut.of(c) for c in catalog_service.list_components(session=session)]


@router.get("/status", dependencies=[Reader])
def component_statuses(session: SessionDep) -> dict[str, ComponentStatus]:
    """Each component's status now: the worst across open incidents."""
    return incident_service.component_statuses(session=session)


@router.get("/components/{key}", dependencies=[Reader])
def get_component(key: str, session: SessionDep) -> ComponentOut:
    return ComponentOut.of(catalog_service.get_component(session=session, key=key))


@router.put("/components/{key}", dependencies=[Writer])
def save_component(key: str, body: ComponentIn, session: SessionDep) -> ComponentOut:
    """Create or change a component (idempotent: PUT the same body twice, same result)."""
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


@router.delete("/components/{key}", status_code=204, dependencies=[Writer])
def delete_component(key: str, session: SessionDep) -> None:
    """Refused with 409 while any site still uses the component."""
    catalog_service.delete_component(session=session, key=key)
