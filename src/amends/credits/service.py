"""The credit ledger's operations: state changes, reports, the billing hand-off.

Every state change is one set-based pair of statements — record the events
(``INSERT … SELECT``), then move the credits (``UPDATE``), with the same
condition — inside the caller's unit of work, so the ledger and its history
never disagree. Services flush, never commit.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import ColumnElement, String, and_, func, literal, or_, select, update
from sqlalchemy.orm import Session

from amends.catalog.models import Customer, Site
from amends.credits import webhooks
from amends.credits.models import Credit, CreditEvent, CreditState
from amends.db import UTCDateTime, utcnow
from amends.errors import ValidationFailed

S = CreditState
OPEN = (S.issued, S.available)


def move(
    session: Session,
    where: ColumnElement[bool],
    to: CreditState,
    *,
    actor: str,
    now: dt.datetime,
    stamp: str | None = None,
) -> int:
    """Move every credit matching ``where`` to ``to``, recording one event each."""
    events = select(
        Credit.id,
        Credit.state,
        literal(to.value, String),
        literal(actor[:100], String),
        literal(now, UTCDateTime),
    ).where(where)
    session.execute(
        CreditEvent.__table__.insert().from_select(
            ["credit_id", "from_state", "to_state", "actor", "at"], events
        )
    )
    values: dict[str, Any] = {"state": to}
    if stamp:
        values[stamp] = now
    result = session.execute(update(Credit).where(where).values(**values))
    session.flush()
    return max(0, result.rowcount or 0)  # type: ignore[attr-defined]


def advance(
    *, session: Session, now: dt.datetime | None = None, actor: str = "schedule"
) -> dict[str, int]:
    """The clock's work: credits become available (or applied, when automatic), or expire."""
    now = now or utcnow()
    due = and_(Credit.state == S.issued, Credit.available_at <= now)
    moved = {
        "expired": move(
            session,
            and_(Credit.state.in_(OPEN), Credit.expires_at.is_not(None), Credit.expires_at <= now),
            S.expired,
            actor=actor,
            now=now,
        ),
        "auto_applied": move(
            session,
            and_(due, Credit.auto_apply),
            S.redeemed,
            actor="auto-apply",
            now=now,
            stamp="redeemed_at",
        ),
        "available": move(
            session, and_(due, ~Credit.auto_apply), S.available, actor=actor, now=now
        ),
    }
    if moved["auto_applied"]:  # billing should apply them: it hears so, 1,000 an event
        webhooks.redeemed(session=session, at=now, auto_apply=True)
    return moved


def void(*, session: Session, incident_id: int, actor: str, now: dt.datetime | None = None) -> int:
    """Withdraw an incident's credits that billing has not applied (an incident
    declared by mistake). Applied credits are on invoices: they stay."""
    now = now or utcnow()
    where = and_(
        Credit.incident_id == incident_id,
        Credit.state.in_([S.issued, S.available, S.redeemed]),
    )
    return move(session, where, S.void, actor=actor, now=now)


def redeemable(customer_id: int, incident_id: int, now: dt.datetime) -> ColumnElement[bool]:
    """This customer's credits in this incident that a click may redeem right now."""
    return and_(
        Credit.customer_id == customer_id,
        Credit.incident_id == incident_id,
        Credit.state.in_(OPEN),
        ~Credit.auto_apply,
        Credit.available_at <= now,
        or_(Credit.expires_at.is_(None), Credit.expires_at > now),
    )


@dataclass(frozen=True)
class CreditLine:
    credit_id: int
    site: str
    amount_minor: int
    currency: str
    state: CreditState
    auto_apply: bool
    available_at: dt.datetime
    redeemed_at: dt.datetime | None


def customer_credits(*, session: Session, customer_id: int, incident_id: int) -> list[CreditLine]:
    found = credits_by_customer(
        session=session, incident_id=incident_id, customer_ids=[customer_id]
    )
    return found.get(customer_id, [])


def credits_by_customer(
    *, session: Session, incident_id: int, customer_ids: Sequence[int]
) -> dict[int, list[CreditLine]]:
    """The credits of a batch of customers in one query (composing their apologies)."""
    rows = session.execute(
        select(
            Credit.customer_id,
            Credit.id,
            Site.domain,
            Credit.amount_minor,
            Credit.currency,
            Credit.state,
            Credit.auto_apply,
            Credit.available_at,
            Credit.redeemed_at,
        )
        .join(Site, Site.id == Credit.site_id)
        .where(Credit.incident_id == incident_id, Credit.customer_id.in_(customer_ids))
        .order_by(Credit.customer_id, Site.domain)
    )
    out: dict[int, list[CreditLine]] = {}
    for customer_id, *line in rows:
        out.setdefault(customer_id, []).append(CreditLine(*line))
    return out


def totals(lines: Sequence[CreditLine]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in lines:
        out[line.currency] = out.get(line.currency, 0) + line.amount_minor
    return dict(sorted(out.items()))


def report(*, session: Session, incident_id: int) -> dict[str, Any]:
    """Per state and currency: how many credits, how much — and the totals issued."""
    by_state: dict[str, dict[str, dict[str, int]]] = {}
    issued: dict[str, dict[str, int]] = {}
    for state, currency, count, amount in session.execute(
        select(Credit.state, Credit.currency, func.count(), func.sum(Credit.amount_minor))
        .where(Credit.incident_id == incident_id)
        .group_by(Credit.state, Credit.currency)
    ):
        by_state.setdefault(str(state), {})[currency] = {
            "credits": count,
            "amount_minor": int(amount),
        }
        total = issued.setdefault(currency, {"credits": 0, "amount_minor": 0})
        total["credits"] += count
        total["amount_minor"] += int(amount)
    customers = session.scalar(
        select(func.count(func.distinct(Credit.customer_id))).where(
            Credit.incident_id == incident_id
        )
    )
    return {
        "incident_id": incident_id,
        "customers": customers or 0,
        "issued": dict(sorted(issued.items())),
        "by_state": {s.value: by_state.get(s.value, {}) for s in CreditState},
    }


BILLING_FIELDS = (
    "id", "incident_id", "customer_external_id", "site_external_id", "amount_minor",
    "currency", "state", "issued_at", "available_at", "redeemed_at", "applied_at",
)  # fmt: skip
_TIME = {
    S.issued: Credit.issued_at,
    S.available: Credit.available_at,
    S.redeemed: Credit.redeemed_at,
    S.applied: Credit.applied_at,
    S.expired: Credit.expires_at,
    S.void: Credit.issued_at,
}


def _billing_query(
    state: CreditState | None, since: dt.datetime | None, incident_id: int | None
) -> Any:
    query = (
        select(
            Credit.id,
            Credit.incident_id,
            Customer.external_id,
            Site.external_id,
            Credit.amount_minor,
            Credit.currency,
            Credit.state,
            Credit.issued_at,
            Credit.available_at,
            Credit.redeemed_at,
            Credit.applied_at,
        )
        .join(Customer, Customer.id == Credit.customer_id)
        .join(Site, Site.id == Credit.site_id)
        .order_by(Credit.id)
    )
    if state is not None:
        query = query.where(Credit.state == state)
        if since is not None:
            query = query.where(_TIME[state] >= since)
    elif since is not None:
        query = query.where(Credit.issued_at >= since)
    if incident_id is not None:
        query = query.where(Credit.incident_id == incident_id)
    return query


def _row(values: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(BILLING_FIELDS, values, strict=True))
    row["state"] = str(row["state"])
    for name in ("issued_at", "available_at", "redeemed_at", "applied_at"):
        row[name] = row[name].isoformat() if row[name] else None
    return row


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"c:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = text.partition(":")
        if prefix != "c":
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("cursor is not one this API gave out", field="cursor") from None


def billing_page(
    *,
    session: Session,
    state: CreditState | None,
    since: dt.datetime | None = None,
    incident_id: int | None = None,
    cursor: str | None = None,
    limit: int = 1000,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of credits for the billing system, in id order; the cursor resumes after it."""
    query = _billing_query(state, since, incident_id)
    if cursor:
        query = query.where(Credit.id > decode_cursor(cursor))
    rows = [_row(r) for r in session.execute(query.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]["id"]) if more else None


def acknowledge(
    *, session: Session, ids: Sequence[int], actor: str, now: dt.datetime | None = None
) -> dict[str, int]:
    """Billing put these redeemed credits on an invoice: they become ``applied``.

    Idempotent: credits already applied, or not redeemed, are counted as ignored.
    """
    now = now or utcnow()
    wanted = sorted(set(ids))
    applied = 0
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start : start + 5000]
        where = and_(Credit.id.in_(chunk), Credit.state == S.redeemed)
        applied += move(session, where, S.applied, actor=actor, now=now, stamp="applied_at")
    return {"applied": applied, "ignored": len(wanted) - applied}


def export_csv(
    *,
    session: Session,
    out: TextIO,
    state: CreditState | None = None,
    incident_id: int | None = None,
    since: dt.datetime | None = None,
) -> int:
    """Every matching credit as CSV, streamed."""
    writer = csv.DictWriter(out, fieldnames=BILLING_FIELDS)
    writer.writeheader()
    count = 0
    query = _billing_query(state, since, incident_id).execution_options(yield_per=10_000)
    for values in session.execute(query):
        writer.writerow(_row(values))
        count += 1
    return count
