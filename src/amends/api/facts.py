"""Incident facts and the data-exposure assessment, over HTTP.

The same operations as ``amends incident facts``. Reading needs a ``read``
key, recording a ``write`` key.
"""

from __future__ import annotations

from fastapi import APIRouter

from amends.api.auth import AUTH_ERRORS, Reader, Writer
from amends.api.deps import SessionDep
from amends.facts import service
from amends.facts.schemas import ExposureIn, FactsIn, FactsOut

router = APIRouter(tags=["incident facts"], responses=AUTH_ERRORS)


@router.get("/incidents/{incident_id}/facts", dependencies=[Reader])
def get_facts(incident_id: int, session: SessionDep) -> FactsOut:
    """What failed, why, who owned it, what was done, what data was exposed."""
    return FactsOut.of(service.get_facts(session=session, incident_id=incident_id))


@router.patch("/incidents/{incident_id}/facts", dependencies=[Writer])
def record_facts(incident_id: int, body: FactsIn, session: SessionDep) -> FactsOut:
    """Set some facts; fields left out stay as they are."""
    facts = service.record_facts(
        session=session, incident_id=incident_id, **body.model_dump(exclude_none=True)
    )
    return FactsOut.of(facts)


@router.put("/incidents/{incident_id}/exposure", dependencies=[Writer])
def assess_exposure(incident_id: int, body: ExposureIn, session: SessionDep) -> FactsOut:
    """Record the data-exposure assessment (``none`` needs ``signed_off_by``)."""
    facts = service.assess_exposure(
        session=session,
        incident_id=incident_id,
        exposure=body.exposure,
        data_kinds=body.data_kinds,
        signed_off_by=body.signed_off_by,
    )
    return FactsOut.of(facts)
