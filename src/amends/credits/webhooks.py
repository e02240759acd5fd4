"""Credit events for the provider's billing system: endpoints and the outbox.

An operator registers the billing system's URL (``amends credits webhook add``,
``POST /api/v1/credits/webhooks``) and gets its Standard Webhooks secret once.
Whenever credits change in a way billing acts on, the same transaction writes
outbox rows (:class:`CreditWebhookEvent`), set-based:

* ``credit.issued``: one event per 1,000 credits of an issuance — 6 M credits
  make 6,000 events, not 6 M; ``data.credits`` lists them;
* ``credit.redeemed``: one event per redemption (a customer's click: that
  customer's credits), and one per 1,000 credits applied automatically.

Nothing is written while no endpoint is registered: billing can always pull
(``GET /api/v1/credits``). The delivery ledger turns each event into one
delivery per active endpoint and sends it through the webhook channel
(signing, retries with backoff, disabling an endpoint that keeps failing).
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from typing import Literal

import httpx
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    String,
    case,
    delete,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from amends.credits.models import BillingEndpoint, Credit, CreditWebhookEvent
from amends.db import UTCDateTime, in_table_order, utcnow
from amends.errors import NotFound, ValidationFailed

#: Credits per ``credit.issued`` event: a payload of ~300 KB at most.
CREDITS_PER_EVENT = 1000
EventType = Literal["credit.issued", "credit.redeemed"]


def add_endpoint(*, session: Session, url: str, description: str = "") -> BillingEndpoint:
    """Register a billing URL with a fresh ``whsec_`` secret (24 random bytes)."""
    parsed = _url(url)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")
    endpoint = BillingEndpoint(
        url=str(parsed), secret=secret, description=description[:200], consecutive_failures=0
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def _url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise ValidationFailed(f"not a URL: {exc}", field="url") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValidationFailed("the endpoint must be an http(s) URL", field="url")
    if len(str(parsed)) > 2048:
        raise ValidationFailed("the URL is longer than 2048 characters", field="url")
    return parsed


def list_endpoints(*, session: Session) -> list[BillingEndpoint]:
    return list(session.scalars(select(BillingEndpoint).order_by(BillingEndpoint.id)))


def remove_endpoint(*, session: Session, endpoint_id: int) -> BillingEndpoint:
    """Stop sending to this endpoint; events already owed to it fail unsent."""
    endpoint = session.get(BillingEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no billing endpoint {endpoint_id}", field="endpoint_id")
    session.execute(delete(BillingEndpoint).where(BillingEndpoint.id == endpoint_id))
    session.flush()
    return endpoint


def enable_endpoint(*, session: Session, endpoint_id: int) -> BillingEndpoint:
    """Switch a disabled endpoint back on (billing fixed its receiver)."""
    endpoint = session.get(BillingEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no billing endpoint {endpoint_id}", field="endpoint_id")
    endpoint.disabled_at = None
    endpoint.consecutive_failures = 0
    session.flush()
    return endpoint


def _listening(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(BillingEndpoint.disabled_at.is_(None)))))


def record(
    *,
    session: Session,
    kind: EventType,
    where: ColumnElement[bool],
    at: dt.datetime,
    customer_id: int | None = None,
) -> int:
    """Write the events for the credits matching ``where``, 1,000 per event, in one
    ``INSERT … SELECT`` (numbered with ``row_number()``, grouped per incident and
    thousand). Returns how many events were written."""
    if not _listening(session):
        return 0
    numbered = (
        select(
            Credit.id,
            Credit.incident_id,
            (
                (func.row_number().over(partition_by=Credit.incident_id, order_by=Credit.id) - 1)
                // CREDITS_PER_EVENT
            ).label("chunk"),
        )
        .where(where)
        .subquery()
    )
    rows = select(
        literal(kind, String),
        numbered.c.incident_id,
        literal(customer_id, Integer),
        func.min(numbered.c.id),
        func.max(numbered.c.id),
        literal(at, UTCDateTime),
        literal(utcnow(), UTCDateTime),
    ).group_by(numbered.c.incident_id, numbered.c.chunk)
    result = session.execute(
        CreditWebhookEvent.__table__.insert().from_select(
            [
                "type", "incident_id", "customer_id", "first_credit_id", "last_credit_id",
                "at", "created_at",
            ],
            rows,
        ).execution_options(preserve_rowcount=True)  # psycopg: else -1
    )  # fmt: skip
    session.flush()
    return max(0, result.rowcount or 0)  # type: ignore[attr-defined]


def issued(
    *, session: Session, incident_id: int, at: dt.datetime, after_id: int = 0,
    created: int | None = None,
) -> int:  # fmt: skip
    """``credit.issued`` events for the credits an issuance at ``at`` created
    (all with ids above ``after_id``, the largest id before it began).

    When the ``created`` credits fill their id range without a gap (a first
    issuance: one writer, ids from one sequence), the events are that range
    cut into thousands, written by one statement that reads no credit; else
    (a re-issue that filled gaps) they are numbered from the credits."""
    where = (Credit.incident_id == incident_id) & (Credit.issued_at == at)
    if after_id:
        where = where & (Credit.id > after_id)
    if created and _listening(session):
        # walked in id order (SQLite would otherwise read all the incident's
        # credits through the (incident, site) index to sort them)
        ours = in_table_order(Credit.incident_id) == incident_id
        mine = select(Credit.id).where(ours, Credit.id > after_id)
        low = session.scalar(mine.order_by(Credit.id).limit(1))
        high = session.scalar(mine.order_by(Credit.id.desc()).limit(1))
        if low is not None and high is not None and high - low + 1 == created:
            return _ranges(session, incident_id, low, high, at)
    return record(session=session, kind="credit.issued", where=where, at=at)


def _ranges(session: Session, incident_id: int, low: int, high: int, at: dt.datetime) -> int:
    """One ``credit.issued`` event per 1,000 consecutive ids from ``low`` to
    ``high``: a recursive CTE counts the chunks, so the statement's cost is
    the number of events, not of credits."""
    step = CREDITS_PER_EVENT
    chunk = select(literal(low, BigInteger).label("first")).cte("chunk", recursive=True)
    chunk = chunk.union_all(
        select((chunk.c.first + step).label("first")).where(chunk.c.first + step <= high)
    )
    last = case((chunk.c.first + (step - 1) > high, high), else_=chunk.c.first + (step - 1))
    rows = select(
        literal("credit.issued", String),
        literal(incident_id, Integer),
        literal(None, Integer),
        chunk.c.first,
        last,
        literal(at, UTCDateTime),
        literal(utcnow(), UTCDateTime),
    )
    result = session.execute(
        CreditWebhookEvent.__table__.insert().from_select(
            [
                "type", "incident_id", "customer_id", "first_credit_id", "last_credit_id",
                "at", "created_at",
            ],
            rows,
        ).execution_options(preserve_rowcount=True)  # psycopg: else -1
    )  # fmt: skip
    session.flush()
    return max(0, result.rowcount or 0)  # type: ignore[attr-defined]


def redeemed(
    *, session: Session, at: dt.datetime, incident_id: int | None = None,
    customer_id: int | None = None, auto_apply: bool | None = None,
) -> int:  # fmt: skip
    """``credit.redeemed`` events for the credits redeemed at ``at`` (one customer's
    click, or the clock's automatic application)."""
    where = Credit.redeemed_at == at
    if incident_id is not None:
        where = where & (Credit.incident_id == incident_id)
    if customer_id is not None:
        where = where & (Credit.customer_id == customer_id)
    if auto_apply is not None:
        where = where & (Credit.auto_apply.is_(auto_apply))
    return record(
        session=session, kind="credit.redeemed", where=where, at=at, customer_id=customer_id
    )
