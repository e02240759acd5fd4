"""The ledger side of dispatch: lease rows, renew leases, record results.

Plain functions over a session (flush, never commit): the dispatcher, the
distributed jobs and tests call them; each is conditional on the rows' state
and lease owner, so calling them twice, or from two workers, is safe.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, func, literal_column, select, update
from sqlalchemy.orm import Session

from amends.db import utcnow
from amends.db.bulk import driver_time, update_many
from amends.delivery.channels.base import Outcome, SendResult
from amends.delivery.models import Delivery, DeliveryState, Notice
from amends.delivery.pausing import paused_notice_ids, segments
from amends.messages.notices import Row

_T = Delivery.__table__


@dataclass(frozen=True)
class Policy:
    """How hard to try. ``chunk_size`` bounds duplicates after a crash."""

    batch_size: int = 1000
    chunk_size: int = 100
    lease_seconds: float = 120.0
    max_attempts: int = 8
    backoff_base: float = 30.0
    backoff_cap: float = 3600.0


@dataclass
class Tally:
    """What a run of the dispatcher did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        for k, v in other.by_channel.items():
            self.by_channel[k] = self.by_channel.get(k, 0) + v


def worker_name() -> str:
    """Unique per process and start: a lease names who holds it."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def backoff(
    attempts: int,
    policy: Policy,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next try: exponential with jitter ("equal jitter", so
    retries of a mass failure spread out but never come sooner than half the
    step), and never sooner than the provider's Retry-After."""
    step = min(policy.backoff_cap, policy.backoff_base * 2 ** max(0, attempts - 1))
    delay = step / 2 + (rng or random).uniform(0, step / 2)
    return max(delay, retry_after or 0.0)


def _in_state(state: DeliveryState, sqlite: bool) -> ColumnElement[bool]:
    """``state = …``; on SQLite marked selective, so that with an id bound the
    planner walks (state, id) of ``ix_deliveries_state_id`` rather than every
    row from that id on (its choice otherwise: measured 25 ms instead of
    0.3 ms past 200,000 rows, benchmarks/paused_claim.py)."""
    same = _T.c.state == state.value
    if not sqlite:
        return same
    hinted: ColumnElement[bool] = func.likelihood(same, literal_column("0.0001"))  # a constant
    return hinted


def claim(
    *,
    session: Session,
    owner: str,
    limit: int,
    lease_seconds: float,
    channels: Sequence[str],
    first_id: int | None = None,
    last_id: int | None = None,
    notice_ids: Sequence[int] | None = None,
    skip: Sequence[tuple[int, int]] = (),
    now: dt.datetime | None = None,
) -> list[tuple[Row, int]]:
    """Lease up to ``limit`` due rows: expired leases first, then pending rows
    in id order. Returns (row, attempts including this one). Flushes nothing
    else; the caller commits so other workers see the lease.

    Rows of paused notices are never taken: the statement itself leaves them
    out (``notice_id NOT IN`` the paused notices), so a pause that committed
    before it began is honoured. ``skip``: id ranges holding only paused rows
    (:class:`amends.delivery.pausing.Skips`), read around rather than
    filtered through — one statement per part, each an index range."""
    now = now or utcnow()
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    sqlite = session.get_bind().dialect.name == "sqlite"
    conditions = [
        and_(_in_state(DeliveryState.sending, sqlite), _T.c.lease_until < now),
        and_(_in_state(DeliveryState.pending, sqlite), _T.c.next_attempt_at <= now),
    ]
    parts = segments(skip, first_id, last_id)
    claimed: list[tuple[Row, int]] = []
    for due, (lowest, highest) in ((d, p) for d in conditions for p in parts):
        wanted = limit - len(claimed)
        if wanted <= 0:
            break
        pick = select(_T.c.id).where(
            due, _T.c.channel.in_(channels), _T.c.notice_id.not_in(paused_notice_ids())
        )
        if lowest is not None:
            pick = pick.where(_T.c.id >= lowest)
        if highest is not None:
            pick = pick.where(_T.c.id <= highest)
        if notice_ids is not None:
            pick = pick.where(_T.c.notice_id.in_(notice_ids))
        pick = pick.order_by(_T.c.id).limit(wanted).with_for_update(skip_locked=True)
        stmt = (
            update(_T)
            .where(_T.c.id.in_(pick.scalar_subquery()))
            .values(
                state=DeliveryState.sending.value,
                lease_owner=owner,
                lease_until=lease_until,
                attempts=_T.c.attempts + 1,
            )
            .returning(
                _T.c.id,
                _T.c.notice_id,
                _T.c.recipient_kind,
                _T.c.recipient_id,
                _T.c.channel,
                _T.c.address,
                _T.c.locale,
                _T.c.attempts,
            )
        )
        for i, notice, kind, rid, channel, address, locale, attempts in session.execute(stmt):
            claimed.append((Row(i, notice, str(kind), rid, channel, address, locale), attempts))
    claimed.sort(key=lambda pair: pair[0].delivery_id)
    return claimed


def renew(
    *,
    session: Session,
    owner: str,
    ids: Sequence[int],
    lease_seconds: float,
    now: dt.datetime | None = None,
) -> set[int]:
    """Extend the lease on ``ids`` that this worker still holds; returns them.

    Called right before each chunk is sent: a row whose lease expired while
    its batch waited and that another worker took over is left out, so the
    only rows ever sent twice are those in flight when a worker died.

    Rows of a notice paused since they were claimed are not sent: they go
    back to ``pending`` (the attempt they were counted is given back), so a
    pause stops a batch between chunks, not only between batches.
    """
    now = now or utcnow()
    mine = and_(
        _T.c.id.in_(list(ids)),
        _T.c.state == DeliveryState.sending.value,
        _T.c.lease_owner == owner,
    )
    paused = _T.c.notice_id.in_(paused_notice_ids())
    session.execute(
        update(_T)
        .where(mine, paused)
        .values(
            state=DeliveryState.pending.value,
            lease_owner=None,
            lease_until=None,
            attempts=_T.c.attempts - 1,
        )
    )
    stmt = (
        update(_T)
        .where(mine, ~paused)
        .values(lease_until=now + dt.timedelta(seconds=lease_seconds))
        .returning(_T.c.id)
    )
    return set(session.scalars(stmt))


def record(
    *,
    session: Session,
    owner: str,
    results: Sequence[SendResult],
    attempts: Mapping[int, int],
    policy: Policy = Policy(),
    now: dt.datetime | None = None,
    rng: random.Random | None = None,
) -> Tally:
    """Write results: one executemany per outcome, each guarded by
    ``state = 'sending' AND lease_owner = owner`` so a row another worker took
    over is left to that worker."""
    now = now or utcnow()
    tally = Tally()
    sent, retry, failed = [], [], []
    for r in results:
        if r.outcome is Outcome.SENT:
            sent.append({"b_id": r.delivery_id, "b_provider": r.provider_id})
        elif r.outcome is Outcome.RETRY and attempts.get(r.delivery_id, 1) < policy.max_attempts:
            delay = backoff(attempts.get(r.delivery_id, 1), policy, r.retry_after, rng)
            retry.append(
                {
                    "b_id": r.delivery_id,
                    "b_error": r.error or "temporary failure",
                    "b_next": now + dt.timedelta(seconds=delay),
                }
            )
        else:
            error = r.error or "failed"
            if r.outcome is Outcome.RETRY:
                error = f"gave up after {attempts.get(r.delivery_id, 1)} attempts: {error}"
            failed.append({"b_id": r.delivery_id, "b_error": error})
    conn = session.connection()
    mine = {"state": DeliveryState.sending.value, "lease_owner": owner}
    released = {"lease_owner": None, "lease_until": None}
    update_many(
        conn,
        table="deliveries",
        key="id",
        values=[("provider_id", "text")],
        rows=[(r["b_id"], r["b_provider"]) for r in sent],
        constants={
            "state": DeliveryState.sent.value,
            "sent_at": driver_time(conn, now),
            "last_error": None,
            **released,
        },
        guard=mine,
    )
    update_many(
        conn,
        table="deliveries",
        key="id",
        values=[("next_attempt_at", "timestamptz"), ("last_error", "text")],
        rows=[(r["b_id"], driver_time(conn, r["b_next"]), r["b_error"]) for r in retry],
        constants={"state": DeliveryState.pending.value, **released},
        guard=mine,
    )
    update_many(
        conn,
        table="deliveries",
        key="id",
        values=[("last_error", "text")],
        rows=[(r["b_id"], r["b_error"]) for r in failed],
        constants={"state": DeliveryState.failed.value, **released},
        guard=mine,
    )
    tally.sent, tally.retried, tally.failed = len(sent), len(retry), len(failed)
    return tally


def stamp_first_sent(
    *, session: Session, notice_ids: Sequence[int], now: dt.datetime | None = None
) -> None:
    """Stamp these notices with their first message sent, if not stamped yet.

    The dispatcher calls it once per notice and process, with the notices of
    rows it just recorded as sent: the cadence counts a notice from then. A
    notice already stamped is not even locked (the condition fails)."""
    session.execute(
        update(Notice)
        .where(Notice.id.in_(list(notice_ids)), Notice.first_sent_at.is_(None))
        .values(first_sent_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
