"""What providers tell us after they accepted a message: delivered, bounced, busy.

A ledger row is ``sent`` when the provider accepted it; that is the moment
"nothing twice" is decided. What happens afterwards arrives later and out of
band — a Twilio status callback, a bounce (DSN) from the mail system — and
only moves a ``sent`` row on: to ``failed`` when the message can never arrive
(a permanent bounce, an undeliverable number), or back to ``pending`` for a
later attempt when the far end was merely busy (a voice call not answered).
A receipt never touches a row in any other state, so a late or repeated
receipt changes nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session

from amends.db import utcnow
from amends.delivery.bounces import Bounce
from amends.delivery.channels.base import Outcome
from amends.delivery.mime import key_from_message_id
from amends.delivery.models import Delivery, DeliveryState
from amends.delivery.ratelimit import backoff


@dataclass(frozen=True, slots=True)
class Receipt:
    """One provider report about one message: found by ledger id or provider id."""

    outcome: Outcome
    delivery_id: int | None = None
    provider_id: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    """How many ledger rows the receipts moved, and how many matched nothing of ours."""

    failed: int = 0
    retried: int = 0
    confirmed: int = 0
    unknown: int = 0


def delivery_id_from_key(key: str) -> int | None:
    """The ledger id inside a message key ``"<notice id>.<delivery id>"``."""
    _, _, tail = key.rpartition(".")
    return int(tail) if tail.isdigit() else None


def receipts_from_bounces(bounces: Sequence[Bounce], *, domain: str) -> list[Receipt]:
    """Permanent bounces of our own messages as failure receipts.

    Delayed and temporary reports are left out: the mail system is still
    trying, and the ledger already counts the message as handed over.
    """
    receipts = []
    for bounce in bounces:
        if not bounce.permanent or not bounce.message_id:
            continue
        key = key_from_message_id(bounce.message_id, domain)
        delivery_id = delivery_id_from_key(key) if key else None
        if delivery_id is None:
            continue
        error = f"bounced {bounce.status}" + (f": {bounce.diagnostic}" if bounce.diagnostic else "")
        receipts.append(Receipt(Outcome.FAILED, delivery_id=delivery_id, error=error[:1000]))
    return receipts


def apply_receipts(
    *, session: Session, receipts: Sequence[Receipt], now: dt.datetime | None = None
) -> Applied:
    """Move the sent rows these receipts are about; one UPDATE per receipt kind.

    Receipts arrive a few at a time (one callback, one bounce), so a statement
    per receipt is fine; each is a conditional update on ``state = 'sent'``.
    """
    now = now or utcnow()
    failed = retried = confirmed = unknown = 0
    for receipt in receipts:
        match = _which(receipt)
        if match is None:
            unknown += 1
            continue
        is_ours = and_(match, Delivery.state == DeliveryState.sent)
        if receipt.outcome is Outcome.SENT:
            rows = session.execute(update(Delivery).where(is_ours).values(last_error=None))
            confirmed += rows.rowcount  # type: ignore[attr-defined]
            continue
        if receipt.outcome is Outcome.FAILED:
            values = {"state": DeliveryState.failed, "last_error": receipt.error}
        else:
            values = {
                "state": DeliveryState.pending,
                "last_error": receipt.error,
                "next_attempt_at": now + dt.timedelta(seconds=backoff(1)),
                "provider_id": None,
            }
        count = session.execute(update(Delivery).where(is_ours).values(**values)).rowcount  # type: ignore[attr-defined]
        if not count:
            unknown += 1
        elif receipt.outcome is Outcome.FAILED:
            failed += count
        else:
            retried += count
    session.flush()
    return Applied(failed=failed, retried=retried, confirmed=confirmed, unknown=unknown)


def _which(receipt: Receipt):  # type: ignore[no-untyped-def]
    tests = []
    if receipt.delivery_id is not None:
        tests.append(Delivery.id == receipt.delivery_id)
    if receipt.provider_id:
        tests.append(Delivery.provider_id == receipt.provider_id)
    return or_(*tests) if tests else None
