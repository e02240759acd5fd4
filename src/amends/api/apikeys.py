"""API keys, managed over the API by holders of an ``admin`` key.

The same operations as ``amends apikey create|list|revoke``; the key is in the
creation response only, and revoking is a DELETE (never a GET: links are
pre-fetched by mail scanners and chat previews).
"""

from __future__ import annotations

from fastapi import APIRouter

from amends.api.auth import AUTH_ERRORS, Admin
from amends.api.deps import SessionDep
from amends.apikeys import service as apikey_service
from amends.apikeys.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut

router = APIRouter(tags=["api keys"], responses=AUTH_ERRORS)


@router.get("/apikeys", dependencies=[Admin])
def list_keys(session: SessionDep) -> list[ApiKeyOut]:
    """Every key, revoked ones too (who had access, until when). Never the key itself."""
    return [ApiKeyOut.of(k) for k in apikey_service.list_keys(session=session)]


@router.post("/apikeys", status_code=201, dependencies=[Admin])
def create_key(body: ApiKeyIn, session: SessionDep) -> ApiKeyCreated:
    """Issue a key. The response is the only place it ever appears."""
    key, plaintext = apikey_service.create(session=session, scope=body.scope, name=body.name)
    return ApiKeyCreated(**ApiKeyOut.of(key).model_dump(), key=plaintext)


@router.delete("/apikeys/{prefix}", dependencies=[Admin])
def revoke_key(prefix: str, session: SessionDep) -> ApiKeyOut:
    """Refuse the key from now on. It stays listed, with the time it was revoked."""
    return ApiKeyOut.of(apikey_service.revoke(session=session, prefix=prefix))
