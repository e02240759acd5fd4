"""Admins manage who may sign in: the list, and adding someone with a role.

The new person's password is generated and shown once on the answer page
(only its argon2 hash is kept), to be handed over out of band.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from amends.console.access import Guard, OperatorDep
from amends.console.deps import SessionDep
from amends.console.pages import render
from amends.errors import AmendsError
from amends.users import auditlog
from amends.users import service as user_service
from amends.users.models import Role

router = APIRouter(include_in_schema=False, dependencies=[Guard])


def _page(
    request: Request, session: Any, me: Any, status_code: int = 200, **extra: Any
) -> Response:
    return render(
        request, "users.html", me, status_code=status_code,
        users=user_service.list_users(session=session), roles=list(Role), **extra,
    )  # fmt: skip


@router.get("/console/users")
def users_page(request: Request, session: SessionDep, me: OperatorDep) -> Response:
    return _page(request, session, me)


@router.post("/console/users")
def add_user(
    request: Request,
    session: SessionDep,
    me: OperatorDep,
    email: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "viewer",
    name: Annotated[str, Form()] = "",
) -> Response:
    password = user_service.generate_password()
    try:
        with session.begin_nested():
            user = user_service.create_user(
                session=session, email=email, role=Role(role), password=password, name=name
            )
    except (AmendsError, ValueError) as exc:
        message = exc.message if isinstance(exc, AmendsError) else str(exc)
        return _page(request, session, me, 422, error=message)
    auditlog.record(
        session=session, actor=me.email, action="user.create", target=user.email,
        detail=f"role={user.role.value}", ip=me.ip,
    )  # fmt: skip
    return _page(request, session, me, created=user.email, password=password)
