"""Users: create, list, and check a password at sign-in (an admin's changes to an
account, guarded so an enabled admin always remains, are in users.admin).

Why argon2id (argon2-cffi): people choose passwords, so a leaked table must
make each guess expensive; argon2id is the current recommendation (RFC 9106,
OWASP) and ``PasswordHasher`` also tells us when a stored hash was made with
weaker parameters so it can be upgraded on the next good sign-in.

Sign-in is throttled per account here (consecutive failures lock the account
for a while, kept in the database so every process sees it); per IP is the
console's job, in memory, like the redemption page's limits.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from amends.db import utcnow
from amends.errors import Conflict, NotFound, ValidationFailed
from amends.users.models import Role, User

HASHER = PasswordHasher()
MIN_PASSWORD = 12
#: Consecutive failures before the account is locked, and for how long.
MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so timing does not say
    which accounts exist. Made on first use: hashing costs ~0.2 s, which every
    process importing this module (the CLI, the server's start) paid before."""
    return HASHER.hash(secrets.token_urlsafe(16))


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed(f"not a valid e-mail address: {exc}", field="email") from None


def generate_password() -> str:
    """20 URL-safe characters, about 120 random bits."""
    return secrets.token_urlsafe(15)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            f"a password needs at least {MIN_PASSWORD} characters", field="password"
        )
    return HASHER.hash(password)


def create_user(*, session: Session, email: str, role: Role, password: str, name: str = "") -> User:
    """Add a user; the password is hashed here and never stored as given."""
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user {email} exists already", field="email")
    user = User(
        email=email,
        name=name.strip()[:200],
        role=Role(role),
        password_hash=hash_password(password),
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def get_user(*, session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"no user {email}", field="email")
    return user


def list_users(*, session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.email)).all()


def count_users(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def set_password(*, session: Session, email: str, password: str) -> User:
    user = get_user(session=session, email=email)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    return user


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt. ``user`` only when ``ok``."""

    ok: bool
    user: User | None = None
    locked: bool = False


def authenticate(
    *, session: Session, email: str, password: str, now: dt.datetime | None = None
) -> SignIn:
    """Check a password, counting failures per account.

    An unknown address, a wrong password and a locked account all look the
    same to the caller's visitor (the console says one thing for all three);
    ``locked`` is there for the audit log.
    """
    now = now or utcnow()
    try:
        address = normalise_email(email)
    except ValidationFailed:
        address = ""
    user = session.scalar(select(User).where(User.email == address)) if address else None
    if user is None or user.disabled_at is not None:
        _verify(_dummy_hash(), password)
        return SignIn(ok=False)
    if user.locked_until is not None and user.locked_until > now:
        return SignIn(ok=False, user=None, locked=True)
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        return SignIn(ok=False, locked=user.locked_until is not None and user.locked_until > now)
    user.failed_logins = 0
    user.locked_until = None
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    return SignIn(ok=True, user=user)


def _verify(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
