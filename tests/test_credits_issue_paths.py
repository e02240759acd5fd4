"""The fast issuance paths keep their promises, on both databases.

A flat policy finds its sites by a semi-join (``impact.caught_sites``), a first
issuance on SQLite inserts without ``ON CONFLICT``, and the ``credit.issued``
events of gap-free ids are cut from the id range without reading the credits.
Each must give what the general path gives: the same sites, a re-issue that
changes nothing, and every credit in exactly one event.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from amends import impact
from amends.catalog.models import Site, SiteState
from amends.credits import issuance, policies, webhooks
from amends.credits.events import payloads
from amends.credits.models import Credit, CreditWebhookEvent
from amends.incidents import service as incidents
from amends.incidents.models import ComponentStatus
from tests import factories
from tests.credit_support import ISSUED, T0, World, issue, world

LATER = ISSUED + dt.timedelta(days=1)


@pytest.fixture
def w(session: Session) -> World:
    return world(session)


def _credits(session: Session, incident_id: int) -> list[tuple[object, ...]]:
    return [
        tuple(row)
        for row in session.execute(
            select(
                Credit.id, Credit.site_id, Credit.customer_id, Credit.amount_minor,
                Credit.fee_ppm, Credit.state, Credit.issued_at,
            ).where(Credit.incident_id == incident_id).order_by(Credit.id)
        )
    ]  # fmt: skip


def _events(session: Session) -> list[CreditWebhookEvent]:
    return list(session.scalars(select(CreditWebhookEvent).order_by(CreditWebhookEvent.id)))


def _listed(session: Session) -> list[int]:
    """Every credit id named by the ``credit.issued`` payloads, repeats kept."""
    ids = [e.id for e in _events(session) if e.type == "credit.issued"]
    return [
        item["credit_id"]
        for body in payloads(session=session, event_ids=ids).values()
        for item in body["data"]["credits"]
    ]


def test_caught_sites_is_the_affected_set_also_with_two_spans(session: Session, w: World) -> None:
    """The semi-join and the join agree, for one window and for windows with
    different times (a component failing twice, the sites' own service dates)."""
    windows = impact.failure_windows(session=session, incident=w.incident)
    joined = {row.site_id for row in session.execute(impact.affected_sites(windows))}
    semi = set(session.scalars(impact.caught_sites(windows, Site.id)))
    assert semi == joined == {w.ana_web.id, w.ana_mail.id, w.bob_web.id}

    ended = T0 - dt.timedelta(days=1)  # before the outage
    gone = factories.site(session, w.bob, ["dns"], state=SiteState.cancelled, ended=ended)
    second = T0 + dt.timedelta(days=2)
    again = incidents.open_incident(
        session=session, title="DNS again", components={"email": ComponentStatus.major_outage},
        started_at=second, now=second,
    )  # fmt: skip
    session.flush()
    spans = windows + impact.failure_windows(
        session=session, incident=again, now=second + dt.timedelta(hours=1)
    )
    assert len({(s.start, s.end) for s in spans}) == 2
    joined = {row.site_id for row in session.execute(impact.affected_sites(spans))}
    semi = set(session.scalars(impact.caught_sites(spans, Site.id)))
    assert semi == joined
    assert gone.id not in semi


def test_first_issue_then_reissue_changes_nothing(session: Session, w: World) -> None:
    """The first issuance (plain INSERT on SQLite, bulk-or-ON CONFLICT on
    PostgreSQL) and a re-issue a day later: nothing added, nothing altered."""
    first = issue(session, w.incident, policies.GODADDY_2012)
    assert first.created == 3
    before = _credits(session, w.incident.id)
    again = issue(session, w.incident, policies.GODADDY_2012, now=LATER)
    assert again.created == 0
    assert _credits(session, w.incident.id) == before


def test_reissue_fills_only_the_missing_sites(session: Session, w: World) -> None:
    """After the fast first path, a re-issue takes the ON CONFLICT path: a
    deleted credit comes back (one row), the others keep their ids and stamps."""
    issue(session, w.incident, policies.GODADDY_2012)
    session.execute(delete(Credit).where(Credit.site_id == w.ana_mail.id))
    kept = _credits(session, w.incident.id)
    again = issue(session, w.incident, policies.GODADDY_2012, now=LATER)
    assert again.created == 1
    now = _credits(session, w.incident.id)
    assert [row for row in now if row[1] != w.ana_mail.id] == kept
    assert [row[6] for row in now if row[1] == w.ana_mail.id] == [LATER]


def test_events_name_each_credit_exactly_once(
    session: Session, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events cut from the id range (2 credits an event here): 3 credits → 2
    events, each credit in one; a re-issue that adds nothing adds no event."""
    monkeypatch.setattr(webhooks, "CREDITS_PER_EVENT", 2)
    webhooks.add_endpoint(session=session, url="http://127.0.0.1:9/billing")
    issue(session, w.incident, policies.GODADDY_2012)
    events = _events(session)
    assert [(e.type, e.last_credit_id - e.first_credit_id + 1) for e in events] == [
        ("credit.issued", 2),
        ("credit.issued", 1),
    ]
    ids = sorted(row[0] for row in _credits(session, w.incident.id))
    assert sorted(_listed(session)) == ids
    issue(session, w.incident, policies.GODADDY_2012, now=LATER)
    assert len(_events(session)) == 2


def test_events_of_a_reissue_name_each_new_credit_once(
    session: Session, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-issue restoring two credits (another credit's id between the old
    ones): its events name exactly those two, once each, and no older credit;
    the sites already credited draw no id (PostgreSQL's sequence)."""
    monkeypatch.setattr(webhooks, "CREDITS_PER_EVENT", 2)
    webhooks.add_endpoint(session=session, url="http://127.0.0.1:9/billing")
    issue(session, w.incident, policies.GODADDY_2012)
    first_events = len(_events(session))
    restored = {w.ana_web.id, w.bob_web.id}  # ana_mail's between them
    session.execute(delete(Credit).where(Credit.site_id.in_(restored)))
    session.execute(delete(CreditWebhookEvent))
    again = issue(session, w.incident, policies.GODADDY_2012, now=LATER)
    assert again.created == 2
    new = session.scalars(
        select(Credit.id).where(Credit.site_id.in_(restored)).order_by(Credit.id)
    ).all()
    assert new[1] == new[0] + 1
    assert sorted(_listed(session)) == list(new)
    assert first_events == 2
    assert session.scalar(select(func.count()).select_from(CreditWebhookEvent)) == 1


def test_events_of_ids_with_a_gap_are_numbered_from_the_credits(
    session: Session, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Credits of one issuance whose ids are not consecutive (a concurrent
    writer took one between them): the events are numbered from the credits,
    1,000 (here 2) each, every credit in exactly one."""
    issue(session, w.incident, policies.GODADDY_2012)
    first, middle, last = sorted(row[0] for row in _credits(session, w.incident.id))
    session.execute(delete(Credit).where(Credit.id == middle))  # whichever site it was
    ids = sorted(row[0] for row in _credits(session, w.incident.id))
    assert ids == [first, last] and last - first == 2  # the gap
    monkeypatch.setattr(webhooks, "CREDITS_PER_EVENT", 2)
    webhooks.add_endpoint(session=session, url="http://127.0.0.1:9/billing")
    written = webhooks.issued(
        session=session, incident_id=w.incident.id, at=ISSUED, after_id=0, created=2
    )
    assert written == 1
    (event,) = _events(session)
    assert (event.first_credit_id, event.last_credit_id) == (ids[0], ids[1])
    assert sorted(_listed(session)) == ids


def test_small_batches_issue_the_same_credits(session: Session, w: World) -> None:
    """Batches of two site ids (the range is written on both sides of the
    semi-join) issue exactly the credits one batch issues."""
    row = policies.save(session=session, document=policies.GODADDY_2012)
    policy = policies.load(row)
    batched = issuance.issue(
        session=session, incident=w.incident, policy_row=row, policy=policy, now=ISSUED,
        batch_sites=2,
    )  # fmt: skip
    assert batched.batches >= 3 and batched.created == 3
    got = {(r[1], r[3]) for r in _credits(session, w.incident.id)}
    assert got == {(w.ana_web.id, 999), (w.ana_mail.id, 1200), (w.bob_web.id, 2500)}
