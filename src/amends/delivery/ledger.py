"""What became of the notices owed: the ledger read back, and acted on as a whole.

Issuing writes the rows (:mod:`amends.delivery.service`) and the dispatcher
moves each one through its states (leases.py); this module answers the
questions asked of all of them at once — counts by state and channel for the
screens and the API, what is still owed, a sample row per language for the
auditor, the id ranges a sweep hands to workers again — and requeues the
failed rows when an operator decides to. Each is one set-based statement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from amends.db import utcnow
from amends.delivery.models import Delivery, DeliveryState, Notice, NoticeKind, RecipientKind
from amends.delivery.pausing import paused_notice_ids
from amends.incidents import service as incident_service


@dataclass
class DeliveryCounts:
    """Rows of an incident's notices by state and by channel."""

    incident_id: int
    total: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)
    notices: list[dict[str, object]] = field(default_factory=list)
    paused: int = 0  # notices whose sending is paused (delivery/pausing.py)


def sample_recipients(
    *,
    session: Session,
    incident_id: int,
    kind: NoticeKind,
    channel: str,
    notice_id: int | None = None,
) -> dict[str, tuple[int, int]]:
    """One owed customer row per language of a notice: (delivery id, customer id).

    What the auditor reads before a customer-wide message goes out. Grouped
    in SQL by locale (a handful of groups), folded to languages here."""
    found = session.execute(
        select(Delivery.locale, func.min(Delivery.id))
        .join(Notice, Notice.id == Delivery.notice_id)
        .where(
            Notice.incident_id == incident_id,
            Notice.kind == kind,
            Delivery.channel == channel,
            Delivery.recipient_kind == RecipientKind.customer,
            Delivery.state == DeliveryState.pending,
            *([Delivery.notice_id == notice_id] if notice_id is not None else []),
        )
        .group_by(Delivery.locale)
    ).all()
    chosen: dict[str, int] = {}
    for locale, delivery_id in found:
        lang = "es" if locale.lower().startswith("es") else "en"
        chosen[lang] = min(chosen.get(lang, delivery_id), delivery_id)
    rows = session.execute(
        select(Delivery.id, Delivery.recipient_id).where(Delivery.id.in_(chosen.values()))
    )
    by_id = {delivery_id: customer_id for delivery_id, customer_id in rows}
    return {lang: (i, by_id[i]) for lang, i in sorted(chosen.items())}


def counts(*, session: Session, incident_id: int) -> DeliveryCounts:
    """Rows by state and channel for an incident: one GROUP BY."""
    incident_service.get_incident(session=session, incident_id=incident_id)
    result = DeliveryCounts(incident_id=incident_id)
    rows = session.execute(
        select(Delivery.channel, Delivery.state, func.count())
        .join(Notice, Notice.id == Delivery.notice_id)
        .where(Notice.incident_id == incident_id)
        .group_by(Delivery.channel, Delivery.state)
    ).all()
    for channel, state, count in sorted(rows, key=lambda r: (r[0], str(r[1]))):
        result.total += count
        key = str(state)
        result.by_state[key] = result.by_state.get(key, 0) + count
        result.by_channel.setdefault(channel, {})[key] = count
    per_notice = session.execute(
        select(
            Notice.id,
            Notice.kind,
            Notice.update_id,
            Notice.created_at,
            Notice.paused_at,
            Notice.paused_by,
            func.count(Delivery.id),
        )
        .outerjoin(Delivery, Delivery.notice_id == Notice.id)
        .where(Notice.incident_id == incident_id)
        .group_by(
            Notice.id,
            Notice.kind,
            Notice.update_id,
            Notice.created_at,
            Notice.paused_at,
            Notice.paused_by,
        )
        .order_by(Notice.id)
    ).all()
    result.notices = [
        {
            "id": i,
            "kind": str(k),
            "update_id": u,
            "created_at": c.isoformat(),
            "deliveries": n,
            "paused_at": p.isoformat() if p else None,
            "paused_by": by,
        }
        for i, k, u, c, p, by, n in per_notice
    ]
    result.paused = sum(1 for n in result.notices if n["paused_at"])
    return result


def notice_ids(*, session: Session, incident_id: int) -> list[int]:
    incident_service.get_incident(session=session, incident_id=incident_id)
    return list(
        session.scalars(
            select(Notice.id).where(Notice.incident_id == incident_id).order_by(Notice.id)
        )
    )


def outstanding(*, session: Session, notice_ids: list[int] | None = None) -> int:
    """Rows still owed: pending, or leased (possibly to a dead worker)."""
    query = (
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.state.in_([DeliveryState.pending, DeliveryState.sending]))
    )
    if notice_ids is not None:
        query = query.where(Delivery.notice_id.in_(notice_ids))
    return int(session.scalar(query) or 0)


def unfinished_ranges(
    *, session: Session, size: int = 1000, now: dt.datetime | None = None
) -> list[tuple[int, int]]:
    """Id ranges ``[first, last]`` of about ``size`` rows that still hold due
    pending rows or expired leases: what a sweep hands to workers again. Rows
    of paused notices are not due (delivery/pausing.py): a range holding only
    those is not enqueued until the notice is resumed."""
    now = now or utcnow()
    due = or_(
        and_(Delivery.state == DeliveryState.pending, Delivery.next_attempt_at <= now),
        and_(Delivery.state == DeliveryState.sending, Delivery.lease_until < now),
    )
    bucket = (Delivery.id // size).label("bucket")
    unpaused = Delivery.notice_id.not_in(paused_notice_ids())
    query = select(bucket).where(due, unpaused).group_by(bucket).order_by(bucket)
    rows = session.execute(query).all()
    return [(int(b) * size, int(b) * size + size - 1) for (b,) in rows]


def retry_failed(*, session: Session, incident_id: int, now: dt.datetime | None = None) -> int:
    """Owe the incident's failed deliveries again (an operator's decision, after a
    fix such as a corrected relay or provider account): one set-based UPDATE back
    to ``pending`` with a fresh attempt count. ``last_error`` is kept, so the
    reason it failed stays visible. Returns how many rows were requeued."""
    incident_service.get_incident(session=session, incident_id=incident_id)
    notices = select(Notice.id).where(Notice.incident_id == incident_id)
    result = session.execute(
        update(Delivery)
        .where(Delivery.state == DeliveryState.failed, Delivery.notice_id.in_(notices))
        .values(
            state=DeliveryState.pending,
            attempts=0,
            next_attempt_at=now or utcnow(),
            lease_until=None,
            lease_owner=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
