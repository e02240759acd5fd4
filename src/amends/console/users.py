"""Admins manage who may sign in: the list, adding someone with a role, and
one person's page — change the role, disable or enable the account, reset
the password, end their sessions.

New and reset passwords are generated and shown once on the answer page (only
the argon2 hash is kept), to be handed over out of band. The last enabled
admin can be neither demoted nor disabled (users.admin, safe when two admins
act at once). Every change is in the audit log, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from amends.console.access import Guard, Operator, OperatorDep
from amends.console.deps import SessionDep
from amends.console.pages import HEADERS, render
from amends.errors import AmendsError, NotFound
from amends.users import admin, auditlog, sessions
from amends.users import service as user_service
from amends.users.models import Role, User

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


def _person(
    request: Request, session: Any, me: Operator, user_id: int, status_code: int = 200,
    **extra: Any,
) -> Response:  # fmt: skip
    user = admin.get(session=session, user_id=user_id)
    return render(
        request, "user.html", me, status_code=status_code, user=user, roles=list(Role),
        live=sessions.live_count(session=session, user_id=user.id), **extra,
    )  # fmt: skip


@router.get("/console/users/{user_id}")
def person_page(user_id: int, request: Request, session: SessionDep, me: OperatorDep) -> Response:
    try:
        return _person(request, session, me, user_id)
    except NotFound as exc:
        return _page(request, session, me, 404, error=exc.message)


def _act(
    request: Request, session: Any, me: Operator, user_id: int, action: str,
    change: Callable[[], User], detail: Callable[[User], str] = lambda user: "",
) -> Response:  # fmt: skip
    """Run one change in a savepoint; refused (last admin, unknown user): the page again
    with the reason and nothing changed; done: logged, and back to their page (303)."""
    try:
        with session.begin_nested():
            user = change()
    except AmendsError as exc:
        session.expire_all()
        if isinstance(exc, NotFound):
            return _page(request, session, me, 404, error=exc.message)
        return _person(request, session, me, user_id, exc.status, error=exc.message)
    auditlog.record(
        session=session, actor=me.email, action=action, target=user.email, detail=detail(user),
        ip=me.ip,
    )  # fmt: skip
    return RedirectResponse(f"/console/users/{user_id}", status_code=303, headers=HEADERS)


@router.post("/console/users/{user_id}/role")
def change_role(
    user_id: int,
    request: Request,
    session: SessionDep,
    me: OperatorDep,
    role: Annotated[str, Form()] = "",
) -> Response:
    if role not in set(Role):
        return _person(request, session, me, user_id, 422, error=f"no role {role!r}")
    return _act(
        request, session, me, user_id, "user.role",
        lambda: admin.change_role(session=session, user_id=user_id, role=Role(role)),
        lambda user: f"role={user.role.value}",
    )  # fmt: skip


@router.post("/console/users/{user_id}/disable")
def disable(user_id: int, request: Request, session: SessionDep, me: OperatorDep) -> Response:
    return _act(
        request, session, me, user_id, "user.disable",
        lambda: admin.disable(session=session, user_id=user_id),
    )  # fmt: skip


@router.post("/console/users/{user_id}/enable")
def enable(user_id: int, request: Request, session: SessionDep, me: OperatorDep) -> Response:
    return _act(
        request, session, me, user_id, "user.enable",
        lambda: admin.enable(session=session, user_id=user_id),
    )  # fmt: skip


@router.post("/console/users/{user_id}/end-sessions")
def end_sessions(user_id: int, request: Request, session: SessionDep, me: OperatorDep) -> Response:
    ended: list[int] = []

    def change() -> User:
        ended.append(admin.end_sessions(session=session, user_id=user_id))
        return admin.get(session=session, user_id=user_id)

    return _act(
        request, session, me, user_id, "user.sessions_end", change,
        lambda user: f"{ended[0]} sessions",
    )  # fmt: skip


@router.post("/console/users/{user_id}/password")
def reset_password(
    user_id: int, request: Request, session: SessionDep, me: OperatorDep
) -> Response:
    """The new password is on this answer only; it is never shown again."""
    try:
        with session.begin_nested():
            user, password = admin.reset_password(session=session, user_id=user_id)
    except NotFound as exc:
        return _page(request, session, me, 404, error=exc.message)
    auditlog.record(
        session=session, actor=me.email, action="user.password_reset", target=user.email,
        ip=me.ip,
    )  # fmt: skip
    return _person(request, session, me, user_id, password=password)
