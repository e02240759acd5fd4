"""Subscriber endpoints that keep failing are switched off.

A webhook receiver that has answered errors for days only fills the ledger
with retries. After each batch the ledger reports which subscribers' messages
got through and which failed (a FAILED result, or a RETRY that used up its
attempts); ``disable_after`` consecutive failures disable the subscriber, a
success resets the count. Two UPDATEs per batch, whatever its size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from amends.catalog.models import Subscriber
from amends.db import utcnow


def record_endpoint_results(
    *,
    session: Session,
    succeeded: Collection[int] = (),
    failed: Collection[int] = (),
    disable_after: int,
    now: dt.datetime | None = None,
    endpoints: Any = Subscriber,
) -> list[int]:
    """Count failures and successes per subscriber id; return the ids disabled now.

    An id in both sets (several messages in one batch) counts as a success:
    the endpoint works. ``endpoints`` is the table counted: subscribers, or the
    billing endpoints of credit events (the same two columns).
    """
    if disable_after < 1:
        raise ValueError("disable_after must be at least 1")
    good = set(succeeded)
    bad = set(failed) - good
    if good:
        session.execute(
            update(endpoints)
            .where(endpoints.id.in_(good))
            .values(consecutive_failures=0)
            .execution_options(synchronize_session=False)
        )
    if not bad:
        session.flush()
        return []
    session.execute(
        update(endpoints)
        .where(endpoints.id.in_(bad), endpoints.disabled_at.is_(None))
        .values(consecutive_failures=endpoints.consecutive_failures + 1)
        .execution_options(synchronize_session=False)
    )
    newly = list(
        session.scalars(
            select(endpoints.id).where(
                endpoints.id.in_(bad),
                endpoints.disabled_at.is_(None),
                endpoints.consecutive_failures >= disable_after,
            )
        )
    )
    if newly:
        session.execute(
            update(endpoints)
            .where(endpoints.id.in_(newly))
            .values(disabled_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
    session.flush()
    return sorted(newly)


def enable_endpoint(*, session: Session, subscriber_id: int) -> None:
    """Switch a disabled endpoint back on (the subscriber fixed their receiver)."""
    session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .values(disabled_at=None, consecutive_failures=0)
        .execution_options(synchronize_session=False)
    )
    session.flush()
