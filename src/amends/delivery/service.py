"""Issue notices: owe a notice about an incident to everyone it concerns.

Rows are created with one ``INSERT … SELECT`` from the impact query joined
with the customers' channel preferences, plus one for subscribers: at five
million customers a Python loop would take longer than the outage. Who is
owed what on which channel is written as those SELECTs in
:mod:`amends.delivery.recipients`; what became of the rows afterwards (counts,
what is still owed, sweeps, retries) is :mod:`amends.delivery.ledger`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from amends import impact
from amends.catalog.models import Customer
from amends.db import insert_ignoring, utcnow
from amends.db.bulk import analyze, tune_for_bulk
from amends.delivery.models import Delivery, Notice, NoticeKind
from amends.delivery.recipients import LEDGER_COLUMNS, customer_rows, subscriber_rows
from amends.errors import NotFound, ValidationFailed
from amends.incidents import service as incident_service
from amends.incidents.models import IncidentUpdate


@dataclass
class NoticeResult:
    """What :func:`issue_notice` did: the notice, and how many rows it added."""

    notice: Notice
    created: bool
    deliveries: int


def get_notice(*, session: Session, notice_id: int) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"no notice {notice_id}", field="notice")
    return notice


def find_notice(
    *, session: Session, incident_id: int, kind: NoticeKind, update_id: int | None = None
) -> Notice | None:
    return session.scalar(
        select(Notice).where(
            Notice.incident_id == incident_id,
            Notice.kind == kind,
            Notice.update_key == (update_id or 0),
        )
    )


def issue_notice(
    *,
    session: Session,
    incident_id: int,
    kind: NoticeKind,
    update_id: int | None = None,
    first_slice: int | None = None,
    draft_id: int | None = None,
    now: dt.datetime | None = None,
) -> NoticeResult:
    """Owe ``kind`` about this incident to everyone it concerns; idempotent.

    Asking again for the same (incident, kind, update) finds the notice and
    adds only the rows that are missing (a customer who became affected
    since, a new subscriber), so a retried request never doubles a message.

    ``first_slice`` (a new notice only): write the rows of the first
    ``first_slice`` customer ids now and leave the rest owed on the notice
    (``rows_from``), for :func:`amends.delivery.slices.fill` after the first
    messages are on their way (``amends incident open --send``).

    ``draft_id``: a ``draft`` notice is keyed by its draft (one notice per
    draft), and owed to the affected customers only, like the apology.
    """
    now = now or utcnow()
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    if update_id is not None:
        update = session.get(IncidentUpdate, update_id)
        if update is None or update.incident_id != incident_id:
            raise NotFound(f"no update {update_id} in incident {incident_id}", field="update_id")
    elif kind is NoticeKind.update:
        raise ValidationFailed("an update notice names its update", field="update_id")
    if kind in (NoticeKind.call_list, NoticeKind.escalation):
        raise ValidationFailed(f"{kind} notices come from the call lists", field="kind")
    if (kind is NoticeKind.draft) != (draft_id is not None):
        raise ValidationFailed("a draft notice, and only one, names its draft", field="draft_id")
    key = draft_id if draft_id is not None else update_id
    notice = find_notice(session=session, incident_id=incident_id, kind=kind, update_id=key)
    created = notice is None
    if notice is None:
        notice = Notice(
            incident_id=incident.id,
            kind=kind,
            update_id=update_id,
            update_key=key or 0,
            created_at=now,
        )
        session.add(notice)
        session.flush()
    windows = impact.failure_windows(session=session, incident=incident, now=now)
    below = None
    if created and first_slice and windows:
        lowest = session.scalar(select(func.min(Customer.id)))
        if lowest is not None:
            below = int(lowest) + first_slice
            notice.rows_from = below
    added = create_deliveries(
        session=session,
        notice=notice,
        windows=windows,
        now=now,
        fresh=created,
        customers=(None, below),
    )
    return NoticeResult(notice=notice, created=created, deliveries=added)


def create_deliveries(
    *,
    session: Session,
    notice: Notice,
    windows: list[impact.Window],
    now: dt.datetime | None = None,
    fresh: bool = False,
    customers: tuple[int | None, int | None] = (None, None),
) -> int:
    """Insert the notice's rows: affected customers × their channels, and the
    subscribers following a failed component. Two statements, whatever the size.

    An apology or a breach notice speaks to the customers who were hit, about
    their own sites, credit and data: subscribers who are not customers get
    the lifecycle notices only.

    ``fresh`` (the notice was just created, so no row can exist yet) skips the
    duplicate check, which at millions of rows is worth having off.
    ``customers`` = (from, below) limits the customer rows to a range of
    customer ids (subscribers are written with the first range only).
    """
    now = now or utcnow()
    tune_for_bulk(session.connection())
    added = 0
    personal = notice.kind in (NoticeKind.apology, NoticeKind.breach, NoticeKind.draft)
    first = customers[0] is None
    for query in (
        customer_rows(notice.id, windows, now, customers),
        None if personal or not first else subscriber_rows(notice.id, windows, now),
    ):
        if query is None:
            continue
        stmt = insert(Delivery) if fresh else insert_ignoring(session, Delivery)
        result = session.execute(
            stmt.from_select(LEDGER_COLUMNS, query).execution_options(preserve_rowcount=True)
        )
        added += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    if added > 10_000:
        analyze(session.connection(), Delivery.__table__)  # claims must plan on fresh counts
    return added
