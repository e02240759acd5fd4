"""Who may call the API: scoped API keys.

A route declares the scope it needs with :data:`Reader`, :data:`Writer` or
:data:`Admin`: ``read`` for reading (customer and subscriber data is personal
data, and incident timelines carry internal notes), ``write`` for changes,
``admin`` for managing keys. Scopes are ordered: a write key may read, an
admin key may do anything. Only what a public status page shows anyway — the
components and their current status — is readable without a key.

The key comes as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. A
missing, unknown or revoked key is a 401 (with ``WWW-Authenticate``); a valid
key with too low a scope is a 403. The dependency is a FastAPI ``Security``
with the scope as its OpenAPI scope, so every operation's ``security``
requirement in ``/api/v1/openapi.json`` names the scope it needs (OpenAPI 3.1
allows role names there for non-OAuth schemes) and the docs' "Authorize"
button works with either header.

Every write that succeeds (:data:`Writer`, :data:`Admin`) is in the audit log
with the key that made it, the route, the path and the caller's address —
written in the request's own unit of work, so a write that fails or rolls back
leaves no entry. Services that log their own, more precise entry (drafts,
pausing a send) are not logged twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request, Security, params
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBearer,
    SecurityScopes,
)

from amends.api.deps import SessionDep
from amends.api.errors import ErrorOut
from amends.apikeys import service as apikey_service
from amends.apikeys.models import ApiKey, Scope
from amends.errors import AmendsError
from amends.users import auditlog

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer amends_…`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: amends_…`")


class Unauthorized(AmendsError):
    """No usable key: missing, malformed, unknown or revoked (deliberately not said which)."""

    code = "unauthorized"
    status = 401
    headers = {"WWW-Authenticate": 'Bearer realm="amends"'}  # noqa: RUF012


class Forbidden(AmendsError):
    """A valid key whose scope is too low: the caller is known, the answer is no."""

    code = "forbidden"
    status = 403


def authenticate(
    security_scopes: SecurityScopes,
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> ApiKey:
    """The caller's key, if it is live and its scope covers what the route declared."""
    presented = bearer.credentials if bearer is not None else header
    if not presented:
        raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
    key = apikey_service.authenticate(session=session, presented=presented)
    if key is None:
        raise Unauthorized("the API key is not valid")
    for needed in map(Scope, security_scopes.scopes):
        if not key.scope.allows(needed):
            raise Forbidden(f"this needs a key with scope {needed.value!r}; yours is {key.scope}")
    return key


def actor(key: ApiKey) -> str:
    """Who acted, as recorded for an API write: the key's name, or its prefix."""
    return f"api key {key.name or key.prefix}"


def require(needed: Scope) -> Any:  # fastapi.Security is typed Any, to fit ``dependencies=``
    """A route dependency admitting keys whose scope includes ``needed``."""
    return Security(authenticate, scopes=[needed.value])


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def audited_write(
    request: Request,
    session: SessionDep,
    key: Annotated[ApiKey, Security(authenticate)],
) -> Iterator[ApiKey]:
    """The caller's key (the scopes come from :func:`_audited`); once the route
    has returned, its write is logged in the request's session."""
    yield key  # an error raised by the route ends here: nothing is logged
    if request.method in _READS or auditlog.logged(session):
        return  # an admin-only read changes nothing; a service logged its own entry
    route = request.scope.get("route")
    auditlog.record(
        session=session,
        actor=actor(key),
        action=f"api.{getattr(route, 'name', 'write')}",
        target=request.url.path,
        detail=request.method,
        ip=request.client.host if request.client else "",
    )


def _audited(needed: Scope) -> Any:
    """Like :func:`require`, and the write is logged once the route succeeded.

    ``scope="function"``: the entry is added after the route returns and before
    the request's session commits (the session dependency exits after this one),
    so the entry and the change it records are committed together.
    """
    return params.Security(audited_write, scopes=[needed.value], scope="function")


#: OpenAPI responses of every route that needs a key (public routes omit them).
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid API key (`unauthorized`).", "model": ErrorOut},
    403: {"description": "The key's scope is too low (`forbidden`).", "model": ErrorOut},
}

Reader = require(Scope.read)
Writer = _audited(Scope.write)
Admin = _audited(Scope.admin)
