"""Who may call the API: scoped API keys.

Every ``/api/v1`` route depends on :func:`require` with the scope it needs:
``read`` for every GET (customer data is personal data), ``write`` for
changes, ``admin`` for managing keys. The key comes as ``Authorization:
Bearer <key>`` or ``X-API-Key: <key>``. A missing, unknown or revoked key is a
401 (with ``WWW-Authenticate``); a valid key with too low a scope is a 403.
Both schemes are declared through FastAPI's security classes so they appear in
the OpenAPI document and the docs' "Authorize" button.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from amends.api.deps import SessionDep
from amends.apikeys import service as apikey_service
from amends.apikeys.models import ApiKey, Scope
from amends.errors import AmendsError

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer amends_…`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: amends_…`")


class Unauthorized(AmendsError):
    """No usable key: missing, malformed, unknown or revoked (deliberately not said which)."""

    code = "unauthorized"
    status = 401
    headers = {"WWW-Authenticate": 'Bearer realm="amends"'}  # noqa: RUF012


class Forbidden(AmendsError):
    code = "forbidden"
    status = 403


def require(needed: Scope) -> Callable[..., ApiKey]:
    """A dependency that admits keys whose scope includes ``needed``."""

    def check(
        session: SessionDep,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header: Annotated[str | None, Depends(_header)],
    ) -> ApiKey:
        presented = bearer.credentials if bearer is not None else header
        if not presented:
            raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
        key = apikey_service.authenticate(session=session, presented=presented)
        if key is None:
            raise Unauthorized("the API key is not valid")
        if not key.scope.allows(needed):
            raise Forbidden(f"this needs a key with scope {needed.value!r}; yours is {key.scope}")
        return key

    check.__name__ = f"require_{needed.value}"
    return check


Reader = Depends(require(Scope.read))
Writer = Depends(require(Scope.write))
Admin = Depends(require(Scope.admin))
