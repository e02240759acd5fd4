"""Credit events owed to the billing endpoints, as ledger rows.

The credits domain writes its outbox (``credit_webhook_events``) in the
transaction that changed the credits; it cannot reach up to the delivery
ledger. Before claiming, the dispatcher (inline, or a worker's sweep) turns
the events not yet queued into one notice each (kind ``credit``, its
``update_key`` the event id) and one delivery per active endpoint on the
``billing`` channel, then marks them queued — three set-based statements, in
the claiming transaction. From there it is an ordinary delivery: leased,
signed, retried with backoff, the endpoint disabled after repeated failures.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, and_, literal, select, update
from sqlalchemy.orm import Session

from amends.credits.models import BillingEndpoint, CreditWebhookEvent
from amends.db import UTCDateTime, insert_ignoring, utcnow
from amends.delivery.models import Delivery, DeliveryState, Notice, NoticeKind, RecipientKind

CHANNEL = "billing"
_E = CreditWebhookEvent


def queue_credit_events(
    *, session: Session, now: dt.datetime | None = None, limit: int = 5000
) -> int:
    """Owe the waiting credit events to the active billing endpoints; returns how many
    events were queued (the rest wait for the next call)."""
    now = now or utcnow()
    pick = select(_E.id).where(_E.queued_at.is_(None)).order_by(_E.id).limit(limit)
    ids = list(session.scalars(pick.with_for_update(skip_locked=True)))
    if not ids:
        return 0
    notices = select(
        _E.incident_id,
        literal(NoticeKind.credit.value, String),
        _E.id,
        literal(now, UTCDateTime),
    ).where(_E.id.in_(ids))
    session.execute(
        insert_ignoring(session, Notice.__table__).from_select(
            ["incident_id", "kind", "update_key", "created_at"], notices
        )
    )
    rows = (
        select(
            Notice.id,
            literal(RecipientKind.billing.value, String),
            BillingEndpoint.id,
            literal(CHANNEL, String),
            BillingEndpoint.url,
            literal("en", String),
            literal(DeliveryState.pending.value, String),
            literal(0, Integer),
            literal(now, UTCDateTime),
            literal(now, UTCDateTime),
        )
        .select_from(_E)
        .join(
            Notice,
            and_(
                Notice.incident_id == _E.incident_id,
                Notice.kind == NoticeKind.credit,
                Notice.update_key == _E.id,
            ),
        )
        .join(BillingEndpoint, BillingEndpoint.disabled_at.is_(None))
        .where(_E.id.in_(ids))
    )
    columns = [
        "notice_id", "recipient_kind", "recipient_id", "channel", "address", "locale",
        "state", "attempts", "next_attempt_at", "created_at",
    ]  # fmt: skip
    session.execute(insert_ignoring(session, Delivery.__table__).from_select(columns, rows))
    session.execute(update(_E).where(_E.id.in_(ids)).values(queued_at=now))
    session.flush()
    return len(ids)
