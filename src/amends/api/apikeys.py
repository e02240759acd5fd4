"""API keys, managed over the API by holders of an ``admin`` key."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from amends.api.auth import Admin
from amends.api.deps import SessionDep
from amends.apikeys import service as apikey_service
from amends.apikeys.models import ApiKey, Scope

router = APIRouter(tags=["api keys"])


class ApiKeyOut(BaseModel):
    """A key as it may be shown any number of times: never the secret."""

    prefix: str
    name: str
    scope: Scope
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            prefix=key.prefix,
            name=key.name,
            scope=key.scope,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. Shown in this response only; store it now.")


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Scope
    name: Annotated[str, Field(max_length=200)] = ""


@router.get("/apikeys", dependencies=[Admin])
def list_keys(session: SessionDep) -> list[ApiKeyOut]:
    return [ApiKeyOut.of(k) for k in apikey_service.list_keys(session=session)]


@router.post("/apikeys", status_code=201, dependencies=[Admin])
def create_key(body: ApiKeyIn, session: SessionDep) -> ApiKeyCreated:
    key, plaintext = apikey_service.create(session=session, scope=body.scope, name=body.name)
    return ApiKeyCreated(**ApiKeyOut.of(key).model_dump(), key=plaintext)


@router.delete("/apikeys/{prefix}", dependencies=[Admin])
def revoke_key(prefix: str, session: SessionDep) -> ApiKeyOut:
    """Revoked keys stay listed (who had access, until when) but open nothing."""
    return ApiKeyOut.of(apikey_service.revoke(session=session, prefix=prefix))
