"""Signed-in browsers: a random token in an HTTP-only cookie, its hash in a row.

Server-side rows (not a signed cookie) so that signing out, an expiry or an
admin's change takes effect at once. A session ends at ``expires_at``
(absolute) or after ``idle`` without a request, whichever comes first. Each
carries its own CSRF token, which every form and htmx request must send back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from amends.db import utcnow
from amends.users.models import LoginSession, User

LIFETIME = dt.timedelta(hours=12)
IDLE = dt.timedelta(minutes=30)
#: ``last_seen_at`` is written at most this often, so reads stay reads.
TOUCH_EVERY = dt.timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(
    *,
    session: Session,
    user: User,
    ip: str = "",
    now: dt.datetime | None = None,
    lifetime: dt.timedelta = LIFETIME,
) -> tuple[LoginSession, str]:
    """A new session for ``user``; returns the row and the cookie's token (shown once)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = LoginSession(
        token_hash=token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        ip=ip[:64],
    )
    session.add(row)
    session.flush()
    return row, token


def resume(
    *,
    session: Session,
    token: str,
    now: dt.datetime | None = None,
    idle: dt.timedelta = IDLE,
    touch: bool = True,
) -> LoginSession | None:
    """The live session for this cookie, or None (unknown, expired, idle, user disabled).

    A dead session's row is deleted on the way, so it cannot come back.
    ``touch=False`` for requests a page makes by itself (polls, streams): an
    open tab nobody looks at must still go idle.
    """
    if not token:
        return None
    now = now or utcnow()
    row = session.get(LoginSession, token_hash(token))
    if row is None:
        return None
    if row.expires_at <= now or row.last_seen_at + idle <= now or row.user.disabled_at:
        session.delete(row)
        session.flush()
        return None
    if touch and now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return row


def end(*, session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash(token)))


def end_all(*, session: Session, user_id: int) -> None:
    """Every session of one user (role change, password change)."""
    session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))


def purge_expired(*, session: Session, now: dt.datetime | None = None) -> int:
    """Delete sessions past their absolute expiry; returns how many."""
    now = now or utcnow()
    result = session.execute(delete(LoginSession).where(LoginSession.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


def live_count(*, session: Session, user_id: int) -> int:
    rows = session.scalars(select(LoginSession.token_hash).where(LoginSession.user_id == user_id))
    return len(rows.all())
