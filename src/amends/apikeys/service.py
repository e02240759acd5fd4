"""API keys: issue, check, revoke. Take a session, flush, never commit.

A key looks like ``amends_<prefix>_<secret>``:

* ``prefix`` is 12 hex characters, stored in clear and unique. It names the
  key in listings, logs and ``amends apikey revoke`` without revealing it, and
  it finds the row with one indexed lookup.
* ``secret`` is ``secrets.token_urlsafe(32)``: 256 random bits. Only its
  SHA-256 is stored, so a leaked database (or backup) yields no usable key.

Why a fast hash and not bcrypt/argon2: slow, salted hashes exist because
passwords are chosen by people and can be guessed; stretching makes each guess
expensive. A 256-bit random secret cannot be guessed at any speed (2^255 tries
on average), so stretching buys nothing and would cost tens of milliseconds on
*every API request*. Salt is unnecessary too: every secret is unique and
random, so precomputed tables are useless. The hash comparison still uses
``hmac.compare_digest`` so response time says nothing about how many leading
characters matched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends.apikeys.models import ApiKey, Scope
from amends.db import utcnow
from amends.errors import NotFound, ValidationFailed

KEY_MARK = "amends"
PREFIX_BYTES = 6  # 12 hex characters: fits the 16-character column, never contains "_"
SECRET_BYTES = 32  # 256 bits
#: ``last_used_at`` is informational; writing it on every request would turn
#: every read into a write (and on SQLite, a lock). Once a minute is plenty.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _split(presented: str) -> tuple[str, str] | None:
    """``amends_<prefix>_<secret>`` → (prefix, secret), or None if malformed.

    The prefix is hex, so the first ``_`` after the mark ends it even though
    the URL-safe secret may itself contain ``_``.
    """
    mark, sep, rest = presented.strip().partition("_")
    if mark != KEY_MARK or not sep:
        return None
    prefix, sep, secret = rest.partition("_")
    if not sep or len(prefix) != PREFIX_BYTES * 2 or not secret:
        return None
    return prefix, secret


def create(*, session: Session, scope: Scope, name: str) -> tuple[ApiKey, str]:
    """Issue a key. The plaintext is returned here once and never again."""
    name = name.strip()
    if len(name) > 200:
        raise ValidationFailed("name must be at most 200 characters", field="name")
    while True:  # 48-bit prefixes: a collision is astronomically rare, but cheap to retry
        prefix = secrets.token_hex(PREFIX_BYTES)
        taken = session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix))
        if taken is None:
            break
    secret = secrets.token_urlsafe(SECRET_BYTES)
    key = ApiKey(
        prefix=prefix,
        secret_hash=_digest(secret),
        scope=Scope(scope),
        name=name,
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    return key, f"{KEY_MARK}_{prefix}_{secret}"


def authenticate(
    *, session: Session, presented: str, now: dt.datetime | None = None
) -> ApiKey | None:
    """The live key matching ``presented``, or None (unknown, malformed, revoked).

    Callers get no hint about *why* a key was refused: that would help someone
    probing for valid prefixes.
    """
    parts = _split(presented)
    if parts is None:
        return None
    prefix, secret = parts
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        # Hash anyway so unknown prefixes cost the same time as wrong secrets.
        hmac.compare_digest(_digest(secret), "0" * 64)
        return None
    if not hmac.compare_digest(_digest(secret), key.secret_hash):
        return None
    if key.revoked_at is not None:
        return None
    now = now or utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        session.flush()
    return key


def revoke(*, session: Session, prefix: str, now: dt.datetime | None = None) -> ApiKey:
    """Refuse this key from now on. Revoking twice keeps the first time."""
    key = get_key(session=session, prefix=prefix)
    if key.revoked_at is None:
        key.revoked_at = now or utcnow()
        session.flush()
    return key


def get_key(*, session: Session, prefix: str) -> ApiKey:
    """A key by its prefix; a whole key pasted by mistake is accepted too."""
    parts = _split(prefix)
    wanted = parts[0] if parts else prefix.strip()
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == wanted))
    if key is None:
        raise NotFound(f"no API key with prefix {wanted!r}", field="prefix")
    return key


def list_keys(*, session: Session, include_revoked: bool = True) -> Sequence[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return session.scalars(query).all()
