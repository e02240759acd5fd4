"""What an admin does to someone's account: change the role, disable and enable
it, reset the password, end the sessions — never leaving amends without an
enabled admin.

The last-admin guard must hold when two admins act at the same moment (each
demoting the other would otherwise leave nobody able to manage users). Every
change here first locks, in one statement and in ascending id order, the
target's row and every enabled admin's row (``SELECT … FOR UPDATE``): two
such changes never deadlock on each other, the second waits for the first,
and PostgreSQL then re-reads the rows it waited for, so it counts the admins
the first one left. SQLite ignores ``FOR UPDATE`` but needs nothing more: every
writing transaction there begins ``IMMEDIATE`` (amends.db), so writers run
one at a time.

One case is left to PostgreSQL: a console request holds its own session's row
once it has refreshed ``last_seen_at`` (once a minute), and ending the
target's sessions needs *their* session's row — two admins acting on each
other at once, both after a minute's pause, wait for each other. PostgreSQL
breaks the deadlock by failing one statement; that change is refused as
:class:`Busy` (nothing of it stays, its savepoint rolls back) and the other
goes through.

Each function flushes and never commits: the caller's unit of work also holds
the audit entry, so the change and its record stand or fall together.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from amends.db import utcnow
from amends.errors import Conflict, NotFound
from amends.users import sessions
from amends.users.models import Role, User
from amends.users.service import generate_password, hash_password

P = ParamSpec("P")
T = TypeVar("T")


class LastAdmin(Conflict):
    """The change would leave no enabled admin: nobody could manage users any more."""

    code = "last_admin"


class Busy(Conflict):
    """Another change to accounts ran into this one at the same moment; try again."""

    code = "busy"


DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE deadlock_detected


def _one_at_a_time(change: Callable[P, T]) -> Callable[P, T]:
    """A deadlock PostgreSQL broke by failing this change becomes :class:`Busy`."""

    @functools.wraps(change)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return change(*args, **kwargs)
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == DEADLOCK:
                raise Busy(
                    "someone else changed accounts at the same moment; nothing was changed "
                    "here — try again",
                    field="user",
                ) from None
            raise

    return guarded


@dataclass(frozen=True)
class Locked:
    """The target, and the other enabled admins, as they are once locked."""

    user: User
    other_admins: int


def _lock(session: Session, user_id: int) -> Locked:
    enabled_admin = and_(User.role == Role.admin, User.disabled_at.is_(None))
    rows = session.scalars(
        select(User)
        .where(or_(User.id == user_id, enabled_admin))
        .order_by(User.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    target = next((u for u in rows if u.id == user_id), None)
    if target is None:
        raise NotFound(f"no user with id {user_id}", field="user")
    others = sum(1 for u in rows if u.id != user_id and u.role is Role.admin and not u.disabled_at)
    return Locked(user=target, other_admins=others)


def _keep_an_admin(locked: Locked, doing: str) -> None:
    user = locked.user
    if user.role is Role.admin and user.disabled_at is None and locked.other_admins == 0:
        raise LastAdmin(
            f"{user.email} is the last enabled admin: {doing} would leave nobody to manage "
            "users; make someone else admin first",
            field="user",
        )


@_one_at_a_time
def change_role(*, session: Session, user_id: int, role: Role) -> User:
    """A new role; their sessions end, so the next page they open asks again."""
    role = Role(role)
    locked = _lock(session, user_id)
    if role is not Role.admin:
        _keep_an_admin(locked, f"making them {role.value}")
    locked.user.role = role
    sessions.end_all(session=session, user_id=user_id)
    session.flush()
    return locked.user


@_one_at_a_time
def disable(*, session: Session, user_id: int) -> User:
    """They can no longer sign in, and every session of theirs ends now."""
    locked = _lock(session, user_id)
    _keep_an_admin(locked, "disabling them")
    if locked.user.disabled_at is None:
        locked.user.disabled_at = utcnow()
    sessions.end_all(session=session, user_id=user_id)
    session.flush()
    return locked.user


@_one_at_a_time
def enable(*, session: Session, user_id: int) -> User:
    """They may sign in again (with the password they had; a lockout is lifted)."""
    user = _lock(session, user_id).user
    user.disabled_at = None
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    return user


@_one_at_a_time
def reset_password(*, session: Session, user_id: int) -> tuple[User, str]:
    """A generated password, returned once (only its hash is stored); sessions end."""
    user = _lock(session, user_id).user
    password = generate_password()
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    sessions.end_all(session=session, user_id=user_id)
    session.flush()
    return user, password


@_one_at_a_time
def end_sessions(*, session: Session, user_id: int) -> int:
    """Sign them out everywhere; returns how many sessions ended."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}", field="user")
    live = sessions.live_count(session=session, user_id=user_id)
    sessions.end_all(session=session, user_id=user_id)
    return live


def get(*, session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}", field="user")
    return user
