"""Webhook/chat endpoints are disabled after repeated consecutive failures."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends.catalog.models import Subscriber, SubscriberKind
from amends.delivery.endpoints import enable_endpoint, record_endpoint_results


def hooks(session: Session, n: int) -> list[int]:
    rows = [
        Subscriber(kind=SubscriberKind.webhook, address=f"https://hooks.example/{i}")
        for i in range(n)
    ]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def state(session: Session) -> dict[int, tuple[int, bool]]:
    session.expire_all()
    return {
        s.id: (s.consecutive_failures, s.disabled_at is not None)
        for s in session.scalars(select(Subscriber))
    }


def test_disabled_after_n_consecutive_failures_and_success_resets(session: Session) -> None:
    a, b, c = hooks(session, 3)
    when = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)
    assert record_endpoint_results(session=session, failed=[a, b], disable_after=3) == []
    assert record_endpoint_results(session=session, failed=[a, b], disable_after=3) == []
    record_endpoint_results(session=session, succeeded=[b], failed=[c], disable_after=3)
    assert state(session) == {a: (2, False), b: (0, False), c: (1, False)}
    assert record_endpoint_results(session=session, failed=[a, b], disable_after=3, now=when) == [a]
    assert state(session) == {a: (3, True), b: (1, False), c: (1, False)}
    disabled = session.get(Subscriber, a)
    assert disabled is not None and disabled.disabled_at == when
    # already disabled: not reported again, count frozen
    assert record_endpoint_results(session=session, failed=[a], disable_after=3) == []
    enable_endpoint(session=session, subscriber_id=a)
    assert state(session)[a] == (0, False)


def test_a_success_in_the_same_batch_wins(session: Session) -> None:
    (a,) = hooks(session, 1)
    disabled = record_endpoint_results(session=session, succeeded=[a], failed=[a], disable_after=1)
    assert disabled == []
    assert state(session)[a] == (0, False)
