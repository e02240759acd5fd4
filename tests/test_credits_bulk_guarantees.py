"""The first-issuance fast paths keep the ledger's guarantees, on both databases.

PostgreSQL's bulk load (indexes and foreign keys dropped, the credits computed
into a temporary table by a possibly parallel ``CREATE TABLE … AS``, copied,
everything rebuilt) and SQLite's plain INSERT must be atomic (a failure
half-way leaves no credit, no staging table and the schema whole), and a
second issuer running at the same time must wait and then add nothing. The
tiered and pro-rata shares, now found by semi-joins, must be each site's
worst caught component, as the join of every caught link gave.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from amends import impact
from amends.catalog.models import Site, SiteComponent
from amends.credits import issuance, policies, webhooks
from amends.credits import service as credit_service
from amends.credits.models import Credit, CreditEvent, CreditPolicy, CreditWebhookEvent
from amends.incidents.models import Incident
from tests import credit_support, factories
from tests.credit_support import END, ISSUED, T0, World, issue, world

#: SQLite has no bulk load: these run on PostgreSQL only.
POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture
def w(session: Session) -> World:
    return world(session)


@pytest.fixture
def bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL takes the bulk load even for a handful of sites, whatever
    statistics earlier tests left (no ANALYZE here: it would change the plans
    of the tests after this one)."""
    monkeypatch.setattr(issuance, "BULK_SITES", 0)
    monkeypatch.setattr(issuance, "estimated_rows", lambda conn, table: 0)


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Credit)) or 0


def _staging_tables(session: Session) -> list[str]:
    if session.get_bind().dialect.name != "postgresql":
        return []
    found = session.execute(text("SELECT relname FROM pg_class WHERE relname LIKE 'credit_stage%'"))
    return list(found.scalars())


def _schema(session: Session) -> tuple[list[str], list[str]]:
    """The names of the indexes and foreign keys of ``credits``, seen in the session."""
    seen = inspect(session.connection())
    indexes = sorted(str(i["name"]) for i in seen.get_indexes("credits"))
    return indexes, sorted(str(k["name"]) for k in seen.get_foreign_keys("credits"))


@pytest.mark.usefixtures("bulk")
def test_a_failure_half_way_leaves_nothing(
    session: Session, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The credits are in (and on PostgreSQL the indexes and keys rebuilt) when
    the events fail: the rollback leaves no credit, no event, no staging
    table, and the schema as it was — the next issuance is whole."""
    webhooks.add_endpoint(session=session, url="http://127.0.0.1:9/billing")
    session.commit()
    indexes, keys = _schema(session)

    def broken(**_: object) -> int:
        assert _count(session) == 3  # the credits were written …
        raise RuntimeError("billing outbox failed")

    monkeypatch.setattr(webhooks, "issued", broken)
    with pytest.raises(RuntimeError, match="outbox"):
        issue(session, w.incident, policies.GODADDY_2012)
    session.rollback()  # … and are gone with the transaction
    assert _count(session) == 0
    assert session.scalar(select(func.count()).select_from(CreditWebhookEvent)) == 0
    assert _staging_tables(session) == []
    assert _schema(session) == (indexes, keys)

    monkeypatch.undo()
    monkeypatch.setattr(issuance, "BULK_SITES", 0)
    assert issue(session, w.incident, policies.GODADDY_2012).created == 3
    if session.get_bind().dialect.name == "postgresql":  # the merge-join checks left no trace
        assert session.execute(text("SHOW enable_hashjoin")).scalar() == "on"
        assert session.execute(text("SHOW enable_nestloop")).scalar() == "on"
    session.commit()
    assert _staging_tables(session) == []
    twin = session.scalars(select(Credit)).first()
    assert twin is not None
    duplicate = {c.name: getattr(twin, c.key) for c in Credit.__table__.columns if c.name != "id"}
    with pytest.raises(IntegrityError):  # one credit per (incident, site), still
        session.execute(Credit.__table__.insert().values(**duplicate))
    session.rollback()


@pytest.mark.usefixtures("bulk")
def test_a_concurrent_second_issuer_waits_and_adds_nothing(
    session: Session, w: World, sessions: sessionmaker[Session]
) -> None:
    """Two issuers of one incident at once: the second waits for the first's
    lock (PostgreSQL: the table lock of the bulk load; SQLite: the writer
    lock), then finds the credits and adds none — never a duplicate."""
    incident_id = w.incident.id
    policy_id = policies.save(session=session, document=policies.GODADDY_2012).id
    session.commit()
    session.close()

    def issue_in(other: Session, now: dt.datetime) -> int:
        row = other.get_one(CreditPolicy, policy_id)
        incident = other.get_one(Incident, incident_id)
        return issuance.issue(
            session=other, incident=incident, policy_row=row, policy=policies.load(row), now=now
        ).created

    first = sessions()
    assert issue_in(first, ISSUED) == 3
    outcome: dict[str, object] = {}

    def second_issuer() -> None:
        other = sessions()
        try:
            outcome["created"] = issue_in(other, ISSUED + dt.timedelta(hours=1))
            other.commit()
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc
            other.rollback()
        finally:
            other.close()

    thread = threading.Thread(target=second_issuer)
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive()  # waiting for the first issuer's lock
    first.commit()
    first.close()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert outcome == {"created": 0}
    check = sessions()
    assert _count(check) == 3
    check.close()


def test_tiered_shares_are_each_sites_worst_caught_component(session: Session, w: World) -> None:
    """Components with different shares (the CASE from the largest down): every
    site gets the largest share among the components that caught it, as the
    join of all caught links grouped per site says."""
    factories.site(session, w.ana, ["dns", "web-hosting", "email"], price=4000)  # hit thrice
    policy = policies.load(policies.save(session=session, document=policies.AWS_EC2))
    b = issuance.basis(session=session, incident=w.incident, policy=policy, now=ISSUED)
    assert b.windows and len({x.component_id for x in b.windows}) >= 2
    shares = {cid: 10_000 * (n + 1) for n, cid in enumerate(sorted(b.component_ppm))}
    shares[min(shares)] = 0  # a component with no share counts for nothing
    graded = dataclasses.replace(b, component_ppm=shares)
    links = session.execute(
        impact.caught_links(b.windows, Site.id, SiteComponent.component_id).where(
            Site.state.in_(policy.states)
        )
    ).all()
    worst: dict[int, int] = {}
    for site_id, component_id in links:
        worst[site_id] = max(worst.get(site_id, 0), shares.get(component_id, 0))
    kinds = {k for k in worst.values()}
    assert len(kinds) >= 2, "the world should give sites different worst shares"
    rows = issuance.credit_rows(graded, policy).subquery()
    got = {site: ppm for site, ppm in session.execute(select(rows.c.site_id, rows.c.fee_ppm))}
    assert got == {site: ppm for site, ppm in worst.items() if ppm > 0}


def _reader(sessions: sessionmaker[Session], table: str) -> Session:
    """Another connection in the middle of a read of ``table`` (its lock held)."""
    reader = sessions()
    reader.execute(text(f"SELECT count(*) FROM {table}"))
    return reader


@POSTGRES_ONLY
@pytest.mark.usefixtures("bulk")
def test_the_bulk_load_waits_for_readers_without_holding_any_lock(
    session: Session, w: World, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader of ``sites`` that later reads ``customers`` (as the impact
    summary does) while a bulk load starts: the load takes no lock until it
    can take all of them, so the reader finishes — no deadlock, no queue — and
    the load then proceeds in bulk."""
    monkeypatch.setattr(issuance, "LOCK_TRIES", 400)  # 20 s: a loaded CI machine is slow
    monkeypatch.setattr(issuance, "LOCK_PAUSE", 0.05)
    reader = _reader(sessions, "sites")
    done: dict[str, object] = {}

    def finish_reading() -> None:
        try:
            done["customers"] = reader.scalar(text("SELECT count(*) FROM customers"))
        finally:
            reader.rollback()
            reader.close()

    later = threading.Timer(0.5, finish_reading)
    later.start()
    result = issue(session, w.incident, policies.GODADDY_2012)
    later.join(10)
    assert done == {"customers": 2}  # the reader was never blocked by a half-taken lock
    assert result.bulk and result.created == 3
    session.commit()
    assert _count(session) == 3


@POSTGRES_ONLY
@pytest.mark.usefixtures("bulk")
def test_readers_that_stay_make_the_load_take_the_ordinary_path(
    session: Session, w: World, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read of ``incidents`` that outlasts every try: the issuance gives up
    the bulk load and issues row by row, blocking no one; the credits are the
    same and a re-issue adds nothing."""
    monkeypatch.setattr(issuance, "LOCK_TRIES", 3)
    monkeypatch.setattr(issuance, "LOCK_PAUSE", 0.01)
    reader = _reader(sessions, "incidents")
    try:
        result = issue(session, w.incident, policies.GODADDY_2012)
        assert not result.bulk and result.created == 3
        assert reader.scalar(text("SELECT count(*) FROM sites")) == 5  # still reading
        session.commit()
    finally:
        reader.rollback()
        reader.close()
    again = issue(session, w.incident, policies.GODADDY_2012)
    assert again.created == 0
    assert _count(session) == 3


def _keys_to_credits_valid(session: Session) -> list[tuple[str, bool]]:
    """Each constraint on or pointing at ``credits``, and whether PostgreSQL holds it valid."""
    found = session.execute(
        text(
            "SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'credits'::regclass"
            " OR confrelid = 'credits'::regclass ORDER BY conname"
        )
    )
    return [(str(name), bool(valid)) for name, valid in found]


def _outage_days_later(session: Session, days: int) -> Incident:
    later = dt.timedelta(days=days)
    return credit_support.dns_outage(session, T0 + later, END + later)


@POSTGRES_ONLY
@pytest.mark.usefixtures("bulk")
def test_the_bulk_load_numbers_credits_from_the_sequence_and_restores_the_keys(
    session: Session, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk load drops the primary key (and the key of ``credit_events``
    that points at it) and numbers the credits itself: the ids come after
    every id the sequence gave before, even ones never used; the sequence
    resumes after them, so an ordinary issuance later draws fresh ids; and
    every key comes back validated, the events' key checked against its rows."""
    monkeypatch.setattr(issuance, "BULK_BATCH_SITES", 2)  # numbered across batches
    constraints = _keys_to_credits_valid(session)
    assert ("pk_credits", True) in constraints
    first = issue(session, w.incident, policies.GODADDY_2012)
    assert first.bulk and first.created == 3 and first.batches >= 3
    assert credit_service.void(session=session, incident_id=w.incident.id, actor="test") == 3
    session.commit()
    burnt = [session.scalar(text("SELECT nextval('credits_id_seq')")) for _ in range(5)]
    session.rollback()  # a sequence gives its numbers for good

    second = _outage_days_later(session, 2)
    bulk = issue(session, second, policies.GODADDY_2012)
    assert bulk.bulk and bulk.created == 3 and bulk.batches >= 3
    ids = sorted(session.scalars(select(Credit.id).where(Credit.incident_id == second.id)))
    assert ids[0] > max(burnt) and ids == list(range(ids[0], ids[0] + 3))

    third = _outage_days_later(session, 4)
    monkeypatch.setattr(issuance, "_bulk_load", lambda session, incident_id: False)  # nextval
    ordinary = issue(session, third, policies.GODADDY_2012)
    assert not ordinary.bulk and ordinary.created == 3
    later = sorted(session.scalars(select(Credit.id).where(Credit.incident_id == third.id)))
    assert later[0] == ids[-1] + 1
    session.commit()
    assert _keys_to_credits_valid(session) == constraints
    events = session.scalar(select(func.count()).select_from(CreditEvent))
    assert events == 3


def _rows_by_site(session: Session) -> dict[int, dict[str, object]]:
    """Every column of every credit but its id, by site."""
    columns = [c for c in Credit.__table__.columns if c.name != "id"]
    found = session.execute(select(*columns))
    return {row.site_id: dict(row._mapping) for row in found}


@POSTGRES_ONLY
@pytest.mark.usefixtures("bulk")
def test_the_bulk_load_writes_what_the_ordinary_path_writes(
    session: Session, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk load computes every column into its stage (typed there, the
    constants in place) and copies it: column for column, the credits are
    those the ordinary ``INSERT … SELECT`` writes — times, flags, actor, share
    and amount alike — for a policy that sets them all."""
    row = policies.save(
        session=session, document=policies.GODADDY_2012_CLICK + "expires_after_days = 365\n"
    )
    session.commit()

    def issued() -> issuance.Issued:
        policy = policies.load(row)
        return issuance.issue(
            session=session, incident=w.incident, policy_row=row, policy=policy, now=ISSUED
        )

    assert issued().bulk
    bulk = _rows_by_site(session)
    session.rollback()
    monkeypatch.setattr(issuance, "_bulk_load", lambda session, incident_id: False)
    assert not issued().bulk
    assert _rows_by_site(session) == bulk and len(bulk) >= 2
    assert {row["auto_apply"] for row in bulk.values()} == {False}
    assert {row["expires_at"] - row["available_at"] for row in bulk.values()} == {
        dt.timedelta(days=365)
    }
    session.rollback()
