"""Every error the API returns has one JSON shape with a stable code:

``{"error": {"code": "...", "message": "...", "field": "..." | null}}``

Domain errors (:class:`amends.errors.AmendsError`) keep their own code and
HTTP status; request validation is a 422 ``validation_failed`` naming the
field path; anything unexpected is a 500 ``internal`` carrying only an id that
is logged with the traceback, so operators can find it and clients learn
nothing about the internals.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from amends.errors import AmendsError

logger = logging.getLogger("amends.api")

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


def _field(loc: Sequence[int | str]) -> str:
    """``("body", "components", "dns")`` → ``components.dns``: where the client put it."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or str(loc[0] if loc else "")


def _validation_response(errors: Sequence[Any]) -> JSONResponse:
    details = [{"field": _field(e.get("loc", ())), "message": e.get("msg", "")} for e in errors]
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


async def _model_validation(_request: Request, exc: Exception) -> JSONResponse:
    """A pydantic model built inside an endpoint refused its input: still the client's fault."""
    assert isinstance(exc, ValidationError)
    return _validation_response(exc.errors(include_url=False))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    return JSONResponse(
        status_code=exc.status_code,
        content=error_body(code, str(exc.detail), field=None),
        headers=exc.headers,
    )


async def _internal(_request: Request, exc: Exception) -> JSONResponse:
    """Log the traceback under a fresh id; the client gets the id and nothing else."""
    error_id = uuid.uuid4().hex
    logger.error("internal error %s", error_id, exc_info=exc)
    return JSONResponse(
        status_code=500, content=error_body("internal", "internal error", id=error_id)
    )


def install(app: FastAPI) -> None:
    """Register the handlers. ``Exception`` goes to Starlette's outermost
    middleware, so it also catches errors raised while committing."""
    app.add_exception_handler(AmendsError, _amends_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ValidationError, _model_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal)
