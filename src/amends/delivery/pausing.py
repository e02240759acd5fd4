"""Pausing and resuming the sending of an incident's notices.

An operator who sees a notice going wrong (a wrong figure, a channel that
misbehaves, a provider asking to slow down) must be able to stop it without
losing what it still owes, and pick up where it stopped. The pause is a mark
on the notice (``notices.paused_at``/``paused_by``), not on its rows: pausing
a notice of millions of rows is one UPDATE of one row, and rows written for it
later (the rest of a notice written in two steps, a customer hit since) are
paused with it.

Every claim of ledger rows (:func:`amends.delivery.leases.claim`, the sweep's
:func:`amends.delivery.ledger.unfinished_ranges`) leaves out rows of paused
notices in the same statement, so nothing is claimed once the pause has
committed; a chunk already claimed is released right before it would be sent
(:func:`amends.delivery.leases.renew`), and only messages already handed to
a provider finish. Resuming clears the mark: the rows are due at once.

To keep a claim cheap while a large notice is paused, :class:`Skips` finds
the id ranges that hold only that notice's rows (``runs``) once per pause and
process, and the claim reads around them instead of filtering through them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from amends.db import utcnow
from amends.delivery.models import Delivery, Notice
from amends.errors import NotFound
from amends.incidents import service as incident_service
from amends.users import auditlog

#: A run shorter than this is cheaper to filter through than to read around.
MIN_RUN = 500
#: At most this many runs per paused notice: each is one more claim statement.
MOST_RUNS = 8


def paused_notice_ids() -> Select[tuple[int]]:
    """The paused notices, as a subquery a claim puts in its own statement (so a
    pause committed before the claim began is always seen)."""
    return select(Notice.id).where(Notice.paused_at.is_not(None))


@dataclass(frozen=True)
class Change:
    """What a pause or a resume did."""

    incident_id: int
    notice_id: int | None
    changed: int  # notices whose state changed
    paused: int  # the incident's notices paused now


def _target(session: Session, incident_id: int, notice_id: int | None) -> str:
    incident_service.get_incident(session=session, incident_id=incident_id)
    if notice_id is None:
        return f"incident {incident_id}"
    notice = session.get(Notice, notice_id)
    if notice is None or notice.incident_id != incident_id:
        raise NotFound(f"no notice {notice_id} in incident {incident_id}", field="notice")
    return f"incident {incident_id} notice {notice_id}"


def _paused_count(session: Session, incident_id: int) -> int:
    query = select(func.count()).where(
        Notice.incident_id == incident_id, Notice.paused_at.is_not(None)
    )
    return int(session.scalar(query) or 0)


def _set(
    session: Session,
    incident_id: int,
    notice_id: int | None,
    *,
    pause: bool,
    by: str,
    now: dt.datetime,
) -> int:
    stmt = update(Notice).where(Notice.incident_id == incident_id)
    if notice_id is not None:
        stmt = stmt.where(Notice.id == notice_id)
    if pause:
        stmt = stmt.where(Notice.paused_at.is_(None)).values(paused_at=now, paused_by=by)
    else:
        stmt = stmt.where(Notice.paused_at.is_not(None)).values(paused_at=None, paused_by=None)
    result = session.execute(stmt.execution_options(synchronize_session=False))
    session.expire_all()  # notices loaded before show the new state
    return int(getattr(result, "rowcount", 0) or 0)


def pause(
    *,
    session: Session,
    incident_id: int,
    notice_id: int | None = None,
    by: str,
    ip: str = "",
    now: dt.datetime | None = None,
) -> Change:
    """Stop claiming the rows of this incident's notices (or of one notice).

    Notices already paused keep who paused them and when. Recorded in the
    audit log in the same transaction; flushes, the caller commits."""
    target = _target(session, incident_id, notice_id)
    changed = _set(session, incident_id, notice_id, pause=True, by=by, now=now or utcnow())
    auditlog.record(
        session=session, actor=by, action="deliveries.pause", target=target,
        detail=f"{changed} notices paused", ip=ip, now=now,
    )  # fmt: skip
    return Change(incident_id, notice_id, changed, _paused_count(session, incident_id))


def resume(
    *,
    session: Session,
    incident_id: int,
    notice_id: int | None = None,
    by: str,
    ip: str = "",
    now: dt.datetime | None = None,
) -> Change:
    """Make the rows of paused notices claimable again, at once (their
    ``next_attempt_at`` has passed; a retry's backoff is kept)."""
    target = _target(session, incident_id, notice_id)
    changed = _set(session, incident_id, notice_id, pause=False, by=by, now=now or utcnow())
    auditlog.record(
        session=session, actor=by, action="deliveries.resume", target=target,
        detail=f"{changed} notices resumed", ip=ip, now=now,
    )  # fmt: skip
    return Change(incident_id, notice_id, changed, _paused_count(session, incident_id))


def count_paused(*, session: Session) -> int:
    """Notices paused now, across incidents (the ``amends_notices_paused`` gauge)."""
    paused = paused_notice_ids().subquery()
    return int(session.scalar(select(func.count()).select_from(paused)) or 0)


def runs(
    *, session: Session, notice_id: int, min_rows: int = MIN_RUN, most: int = MOST_RUNS
) -> list[tuple[int, int]]:
    """Id ranges ``[first, last]`` holding nothing but this notice's rows.

    Gaps and islands over the notice's row ids: consecutive ids form a run,
    and since ids are unique, no row of another notice can lie inside one,
    now or later. The longest ``most`` runs of at least ``min_rows`` rows, in
    id order. One pass over the notice's rows (the unique index leads with
    ``notice_id``)."""
    island = Delivery.id - func.row_number().over(order_by=Delivery.id)
    of_notice = select(Delivery.id, island.label("g")).where(Delivery.notice_id == notice_id)
    numbered = of_notice.subquery("numbered")
    size = func.count().label("size")
    query = (
        select(func.min(numbered.c.id), func.max(numbered.c.id), size)
        .group_by(numbered.c.g)
        .having(func.count() >= min_rows)
        .order_by(size.desc())
        .limit(most)
    )
    return sorted((int(first), int(last)) for first, last, _ in session.execute(query))


class Skips:
    """The id ranges a claim may read around: the runs of paused notices.

    Kept per process, computed once per pause (keyed by the notice and its
    ``paused_at``) and again once a half-written notice is completed. A run
    never goes stale (its ids can only ever be that notice's); rows added to
    a paused notice since are still left out by the claim's filter, just not
    read around."""

    def __init__(self, *, min_rows: int = MIN_RUN) -> None:
        self.min_rows = min_rows
        self._runs: dict[tuple[int, dt.datetime, bool], list[tuple[int, int]]] = {}

    def ranges(self, *, session: Session) -> list[tuple[int, int]]:
        paused = session.execute(
            select(Notice.id, Notice.paused_at, Notice.rows_from.is_(None)).where(
                Notice.paused_at.is_not(None)
            )
        ).all()
        keys = {(int(i), at, bool(done)) for i, at, done in paused}
        self._runs = {k: v for k, v in self._runs.items() if k in keys}
        for key in keys - set(self._runs):
            self._runs[key] = runs(session=session, notice_id=key[0], min_rows=self.min_rows)
        return merge([r for found in self._runs.values() for r in found])


def merge(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, with touching or overlapping ranges joined."""
    out: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def segments(
    skip: Sequence[tuple[int, int]], first_id: int | None, last_id: int | None
) -> list[tuple[int | None, int | None]]:
    """The parts of ``[first_id, last_id]`` (None: open) outside the ``skip``
    ranges, in id order: what a claim reads, one index range each."""
    out: list[tuple[int | None, int | None]] = []
    start = first_id
    for lo, hi in merge(skip):
        if last_id is not None and lo > last_id:
            break
        if start is not None and hi < start:
            continue
        if start is None or lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if last_id is None or start is None or start <= last_id:
        out.append((start, last_id))
    return out
