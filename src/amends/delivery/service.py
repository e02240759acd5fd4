"""Operations on the delivery ledger: owe notices, count what became of them.

Rows are created with one ``INSERT … SELECT`` from the impact query joined
with the customers' channel preferences, plus one for subscribers: at five
million customers a Python loop would take longer than the outage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from amends import impact
from amends.catalog.models import CHANNELS, Customer, Site, Subscriber, SubscriberComponent
from amends.db import UTCDateTime, insert_ignoring, utcnow
from amends.db.bulk import analyze, tune_for_bulk
from amends.delivery.models import (
    Delivery,
    DeliveryState,
    Notice,
    NoticeKind,
    RecipientKind,
)
from amends.delivery.pausing import paused_notice_ids
from amends.errors import NotFound, ValidationFailed
from amends.incidents import service as incident_service
from amends.incidents.models import IncidentUpdate

OPTED_OUT = "opted out"
NO_ADDRESS = "no address"

#: Columns filled by the set-based inserts, in order.
LEDGER_COLUMNS = (
    "notice_id",
    "recipient_kind",
    "recipient_id",
    "channel",
    "address",
    "locale",
    "state",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
)


@dataclass
class NoticeResult:
    """What :func:`issue_notice` did: the notice, and how many rows it added."""

    notice: Notice
    created: bool
    deliveries: int


@dataclass
class DeliveryCounts:
    """Rows of an incident's notices by state and by channel."""

    incident_id: int
    total: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)
    notices: list[dict[str, object]] = field(default_factory=list)
    paused: int = 0  # notices whose sending is paused (delivery/pausing.py)


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
        _customer_rows(notice.id, windows, now, customers),
        None if personal or not first else _subscriber_rows(notice.id, windows, now),
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


def _existing(notice_id: int, query: Select) -> Select:  # type: ignore[type-arg]
    """The row ``query`` would add, if it is already there: an anti-join on the
    unique key, so re-issuing a notice reads its rows once instead of
    attempting (and discarding) a million inserts."""
    old = Delivery.__table__.alias("existing")
    kind, recipient, channel = list(query.selected_columns)[1:4]
    return select(old.c.id).where(
        old.c.notice_id == notice_id,
        old.c.recipient_kind == kind,
        old.c.recipient_id == recipient,
        old.c.channel == channel,
    )


def _constant(value: object, type_: object) -> ColumnElement[object]:
    return literal(value, type_)  # type: ignore[arg-type]


def _by_channel(channel: ColumnElement[str], attribute: str) -> ColumnElement[object]:
    """``notify_<channel>`` or ``opt_out_<channel>`` of the row's channel."""
    return case(
        *((channel == c, getattr(Customer, f"{attribute}_{c}")) for c in CHANNELS),
        else_=False,
    )


def _customer_rows(
    notice_id: int,
    windows: list[impact.Window],
    now: dt.datetime,
    customers: tuple[int | None, int | None] = (None, None),
) -> Select:  # type: ignore[type-arg]
    """Affected customers × the channels they chose, one row each (of the
    customer ids ``from <= id < below`` when given: the range goes into the
    impact query, so a first slice reads only its own sites)."""
    if not windows:
        return None  # type: ignore[return-value]
    channels = union_all(
        *(select(literal(c, String(16)).label("channel")) for c in CHANNELS)
    ).subquery("ch")
    channel = channels.c.channel
    address = case((channel == "email", Customer.email), else_=Customer.phone)
    opted_out = _by_channel(channel, "opt_out")
    missing = or_(address.is_(None), address == "")
    lowest, below = customers
    if below is not None:  # a first slice: start from its customers' sites
        affected = impact.affected_customers_between(windows, lowest, below).subquery("affected")
    else:
        affected_query = impact.affected_customers(windows)
        if lowest is not None:  # the rest: the whole hit set, filtered
            affected_query = affected_query.where(Site.customer_id >= lowest)
        affected = affected_query.subquery("affected")
    return (
        select(
            _constant(notice_id, Integer()),
            _constant(RecipientKind.customer.value, String(16)),
            Customer.id,
            channel,
            address,
            Customer.locale,
            case(
                (opted_out, DeliveryState.suppressed.value),
                (missing, DeliveryState.suppressed.value),
                else_=DeliveryState.pending.value,
            ),
            _constant(0, Integer()),
            _constant(now, UTCDateTime()),
            case((opted_out, OPTED_OUT), (missing, NO_ADDRESS), else_=None),
            _constant(now, UTCDateTime()),
        )
        .select_from(Customer)
        .join(affected, affected.c.customer_id == Customer.id)
        .join(channels, _by_channel(channel, "notify") == True)  # noqa: E712
    )


def _subscriber_rows(
    notice_id: int, windows: list[impact.Window], now: dt.datetime
) -> Select | None:  # type: ignore[type-arg]
    """Confirmed subscribers who follow a failed component, or every component;
    an endpoint switched off after repeated failures gets nothing."""
    component_ids = sorted({w.component_id for w in windows})
    follows_all = not_(exists().where(SubscriberComponent.subscriber_id == Subscriber.id))
    follows_failed = exists().where(
        SubscriberComponent.subscriber_id == Subscriber.id,
        SubscriberComponent.component_id.in_(component_ids),
    )
    missing = or_(Subscriber.address.is_(None), Subscriber.address == "")
    return select(
        _constant(notice_id, Integer()),
        _constant(RecipientKind.subscriber.value, String(16)),
        Subscriber.id,
        Subscriber.kind,
        Subscriber.address,
        Subscriber.locale,
        case((missing, DeliveryState.suppressed.value), else_=DeliveryState.pending.value),
        _constant(0, Integer()),
        _constant(now, UTCDateTime()),
        case((missing, NO_ADDRESS), else_=None),
        _constant(now, UTCDateTime()),
    ).where(
        Subscriber.confirmed,
        Subscriber.disabled_at.is_(None),
        or_(follows_all, follows_failed) if component_ids else follows_all,
    )


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
