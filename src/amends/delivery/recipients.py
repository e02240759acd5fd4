"""Who a notice is owed to, and on which channel: the SELECTs its rows come from.

Why a module of its own: the rule of who gets a row — affected customers ×
the channels they chose, suppressed with a reason when they opted out or have
no address, plus the subscribers following a failed component — is what
everything downstream counts on, and the call lists' rows are written to the
same columns (:data:`LEDGER_COLUMNS`). Issuing a notice
(:mod:`amends.delivery.service`) inserts from these SELECTs; nothing here
writes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    case,
    exists,
    literal,
    not_,
    or_,
    select,
    union_all,
)

from amends import impact
from amends.catalog.models import CHANNELS, Customer, Site, Subscriber, SubscriberComponent
from amends.db import UTCDateTime
from amends.delivery.models import DeliveryState, RecipientKind

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


def _constant(value: object, type_: object) -> ColumnElement[object]:
    return literal(value, type_)  # type: ignore[arg-type]


def _by_channel(channel: ColumnElement[str], attribute: str) -> ColumnElement[object]:
    """``notify_<channel>`` or ``opt_out_<channel>`` of the row's channel."""
    return case(
        *((channel == c, getattr(Customer, f"{attribute}_{c}")) for c in CHANNELS),
        else_=False,
    )


def customer_rows(
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


def subscriber_rows(
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
