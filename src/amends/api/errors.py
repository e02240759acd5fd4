"""Every error the API returns has one JSON shape with a stable code:

``{"error": {"code": "...", "message": "...", "field": "..." | null}}``

Domain errors (:class:`amends.errors.AmendsError`) keep their own code and
HTTP status; request validation is a 422 ``validation_failed`` naming the
field path; anything unexpected is a 500 ``internal`` carrying only an id that
is logged with the traceback, so operators can find it and clients learn
nothing about the internals. Two database failures a client can act on get
their own answer, still without SQL in it: a constraint violated by a
concurrent change is a 409 ``conflict`` (retry after reloading), an
unreachable or locked database a 503 ``unavailable`` (retry later).

:data:`CODES` is the complete list; ``docs/api.md`` documents it and a test
keeps the two, and the domain's error classes, in step.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from amends.errors import AmendsError

logger = logging.getLogger("amends.api")

#: Every code the API answers with, and what it means. Clients switch on these.
CODES: dict[str, str] = {
    "invalid": "The request is malformed (400).",
    "unauthorized": "No API key, or one that is malformed, unknown or revoked (401).",
    "forbidden": "The key is valid but its scope is too low (403).",
    "not_found": "No such resource or route (404).",
    "method_not_allowed": "The route exists but not with this method (405).",
    "not_acceptable": "The requested media type cannot be produced (406).",
    "conflict": "Conflicts with what is stored: a duplicate, or still in use (409).",
    "invalid_transition": "The incident cannot move to that status from its current one (409).",
    "too_large": "The request body is too large (413).",
    "unsupported_media_type": "The body is not JSON (415).",
    "validation_failed": "The input is invalid; `field` says where (422).",
    "invalid_time": "A time without offset, in the future, or out of order (422).",
    "too_many_requests": "Slow down (429).",
    "internal": "A bug on our side; `id` finds the traceback in the server log (500).",
    "unavailable": "The database cannot be reached or is busy; retry later (503).",
}

#: Codes for errors Starlette raises itself (unknown route, wrong method, ...).
_HTTP_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    """The body of every error response (documented in the OpenAPI schema)."""

    error: ErrorDetail


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _field(error: dict[str, Any]) -> str:
    """``("body", "components", "dns")`` → ``components.dns``: where the client put it.

    A body that is not JSON at all is located at ``body`` (pydantic would
    give the character offset, which names no field).
    """
    loc = list(error.get("loc", ()))
    if error.get("type") == "json_invalid":
        return "body"
    parts = loc[1:] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else loc
    return ".".join(str(p) for p in parts) or str(loc[0] if loc else "")


def _validation_response(errors: Sequence[Any]) -> JSONResponse:
    details = [{"field": _field(e), "message": e.get("msg", "")} for e in errors]
    first = details[0] if details else {"field": None, "message": "invalid request"}
    return JSONResponse(
        status_code=422,
        content=error_body(
            "validation_failed", first["message"], field=first["field"], errors=details
        ),
    )


async def _amends_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AmendsError)
    return JSONResponse(
        status_code=exc.status,
        content=error_body(exc.code, exc.message, field=exc.field),
        headers=getattr(exc, "headers", None),
    )


async def _request_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _validation_response(list(exc.errors()))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "internal" if exc.status_code >= 500 else "invalid")
    return JSONResponse(
        status_code=exc.status_code,
        content=error_body(code, str(exc.detail), field=None),
        headers=exc.headers,
    )


def _logged(status: int, code: str, message: str, exc: Exception) -> JSONResponse:
    """Log the traceback under a fresh id; the client gets the id and nothing else."""
    error_id = uuid.uuid4().hex
    logger.error("%s error %s", code, error_id, exc_info=exc)
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(
        status_code=status,
        content=error_body(code, message, field=None, id=error_id),
        headers=headers,
    )


async def _integrity(_request: Request, exc: Exception) -> JSONResponse:
    """A constraint the services did not foresee, usually a concurrent change."""
    return _logged(409, "conflict", "the change conflicts with stored data; reload and retry", exc)


#: SQLite's ``OperationalError`` also covers bugs ("no such table"); only these are "try later".
_SQLITE_UNAVAILABLE = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_FULL"})


def _unavailable(exc: OperationalError) -> bool:
    """Whether the database is out of reach or busy, rather than our SQL being wrong.

    PostgreSQL drivers raise ``OperationalError`` for lost connections and
    timeouts only (a missing table is a ``ProgrammingError``); SQLite uses it
    for both, so there the extended error name decides.
    """
    if exc.connection_invalidated:
        return True
    name = getattr(exc.orig, "sqlite_errorname", None)
    if isinstance(exc.orig, sqlite3.Error):
        return name in _SQLITE_UNAVAILABLE
    return True


async def _operational(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OperationalError)
    if _unavailable(exc):
        return _logged(503, "unavailable", "the database is unavailable; retry later", exc)
    return _logged(500, "internal", "internal error", exc)


async def _internal(_request: Request, exc: Exception) -> JSONResponse:
    return _logged(500, "internal", "internal error", exc)


def install(app: FastAPI) -> None:
    """Register the handlers. ``Exception`` goes to Starlette's outermost
    middleware, so it catches whatever escapes the others.

    A pydantic ``ValidationError`` raised *inside* an endpoint is deliberately
    not mapped to 422: client input is validated before the endpoint runs, so
    one raised later is our bug and must be a 500, not blamed on the client.
    """
    app.add_exception_handler(AmendsError, _amends_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(OperationalError, _operational)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal)
