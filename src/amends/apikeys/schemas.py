"""How API keys look to the outside, shared by the API and ``amends apikey --json``.

Kept beside the service (not in the API) so the CLI can list keys without
loading FastAPI. Only :class:`ApiKeyCreated` carries the key itself, and only
the response to the request that issued it is ever built from it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from amends.apikeys.models import ApiKey, Scope


class ApiKeyOut(BaseModel):
    """A key as it may be shown any number of times: never the secret."""

    prefix: str = Field(description="Names the key in listings and revocation; opens nothing.")
    name: str
    scope: Scope
    created_at: dt.datetime
    last_used_at: dt.datetime | None = Field(description="To the minute; null if never used.")
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
    """The one response that carries the key: only its hash is stored."""

    key: str = Field(description="The key itself. Shown in this response only; store it now.")


class ApiKeyIn(BaseModel):
    """Request to issue a key."""

    model_config = ConfigDict(extra="forbid")

    scope: Scope = Field(description="read, write (includes read) or admin (includes write).")
    name: Annotated[str, Field(max_length=200)] = ""
