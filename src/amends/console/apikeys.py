"""Admins manage the REST API's keys: the list, issuing one with a scope, and
revoking one after a confirmation page.

The same service as ``amends apikey`` and ``/api/v1/apikeys``: the key is on
the answer to the POST that issued it and nowhere else (only its SHA-256 is
stored), so reloading the list never shows it again. Issuing and revoking
are in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from amends.apikeys import service as apikey_service
from amends.apikeys.models import Scope
from amends.console.access import Guard, Operator, OperatorDep
from amends.console.deps import SessionDep
from amends.console.pages import HEADERS, render
from amends.errors import AmendsError, NotFound
from amends.users import auditlog

router = APIRouter(include_in_schema=False, dependencies=[Guard])


def _page(
    request: Request, session: Any, me: Operator, status_code: int = 200, **extra: Any
) -> Response:
    return render(
        request, "apikeys.html", me, status_code=status_code, scopes=list(Scope),
        keys=apikey_service.list_keys(session=session), **extra,
    )  # fmt: skip


@router.get("/console/apikeys")
def keys_page(request: Request, session: SessionDep, me: OperatorDep) -> Response:
    return _page(request, session, me)


@router.post("/console/apikeys")
def issue_key(
    request: Request,
    session: SessionDep,
    me: OperatorDep,
    scope: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
) -> Response:
    """The answer carries the key once; the list below it already shows only the prefix."""
    if scope not in set(Scope):
        return _page(request, session, me, 422, error="choose a scope: read, write or admin")
    try:
        with session.begin_nested():
            key, plaintext = apikey_service.create(session=session, scope=Scope(scope), name=label)
    except AmendsError as exc:
        return _page(request, session, me, 422, error=exc.message)
    auditlog.record(
        session=session, actor=me.email, action="apikey.create", target=key.prefix,
        detail=f"scope={key.scope.value} name={key.name}", ip=me.ip,
    )  # fmt: skip
    return _page(request, session, me, issued=key, plaintext=plaintext)


@router.get("/console/apikeys/{prefix}/revoke")
def confirm_revoke(prefix: str, request: Request, session: SessionDep, me: OperatorDep) -> Response:
    """Asks first: revoking cannot be undone, and whatever uses the key stops working."""
    try:
        key = apikey_service.get_key(session=session, prefix=prefix)
    except NotFound as exc:
        return _page(request, session, me, 404, error=exc.message)
    return render(request, "apikey_revoke.html", me, key=key)


@router.post("/console/apikeys/{prefix}/revoke")
def revoke_key(prefix: str, request: Request, session: SessionDep, me: OperatorDep) -> Response:
    try:
        with session.begin_nested():
            key = apikey_service.revoke(session=session, prefix=prefix)
    except NotFound as exc:
        return _page(request, session, me, 404, error=exc.message)
    auditlog.record(
        session=session, actor=me.email, action="apikey.revoke", target=key.prefix,
        detail=f"scope={key.scope.value} name={key.name}", ip=me.ip,
    )  # fmt: skip
    return RedirectResponse("/console/apikeys", status_code=303, headers=HEADERS)
