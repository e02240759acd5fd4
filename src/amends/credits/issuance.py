"""Turning a policy into credits: preview and issue, set-based.

Python decides the few numbers that depend on the incident (each failing
component's share of the fee, from its measured availability); one SQL
statement per batch of sites then computes every site's amount and inserts
the credits — ``INSERT … SELECT … ON CONFLICT DO NOTHING`` — so millions of
credits never pass through Python and issuing twice changes nothing.

Amounts are integer arithmetic in SQL: ``fee_ppm`` (millionths of the monthly
price) → floor (contract), escalation (hit again lately), cap → ``price ×
ppm ÷ 10⁶`` with the policy's rounding → minimum.
"""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Select,
    String,
    Subquery,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.schema import DropTable

from amends import impact
from amends.availability import service as availability
from amends.availability.service import DEFAULT_RULES, Rules
from amends.availability.windows import MICROSECOND
from amends.catalog.models import Component, Customer, Site
from amends.credits import webhooks
from amends.credits.models import Credit, CreditPolicy
from amends.credits.policies import PPM, Policy
from amends.db import UTCDateTime, insert_ignoring, is_postgres, utcnow
from amends.db.bulk import (
    LOCK_PAUSE,
    LOCK_TRIES,
    analyze,
    estimated_rows,
    ids_from,
    ids_used,
    indexes_rebuilt,
    locked_at_once,
    locked_by,
    tune_for_bulk,
)
from amends.incidents.models import Incident

BATCH_SITES = 2_000_000
#: PostgreSQL's bulk load computes its credits in batches this large: one
#: parallel ``CREATE TABLE … AS`` over all 10 M sites of the 5 M reference
#: staged in 7.7 s, five of 2 M in 9.3–9.7 s (docs/benchmarks.md); its temporary
#: table is the only cost that grows with it (~130 bytes a credit, on disk).
BULK_BATCH_SITES = 20_000_000
_ROUNDING = {"down": 0, "half_up": PPM // 2, "up": PPM - 1}


def _int(value: int) -> ColumnElement[int]:
    """An integer constant written into the SQL: no bind type for planners to guess."""
    return cast(literal_column(str(int(value))), BigInteger)


@dataclass(frozen=True)
class Basis:
    """What the SQL needs to know about the incident, computed once."""

    incident: Incident
    windows: list[impact.Window]
    month_start: dt.datetime
    uptime: dict[str, Decimal]  # failing component key → availability in the incident's month
    component_ppm: dict[int, int]  # failing component id → share of the fee (tiered, pro_rata)
    recent_incidents: list[int]  # other incidents within repeat_days before this one


def basis(
    *,
    session: Session,
    incident: Incident,
    policy: Policy,
    now: dt.datetime | None = None,
    rules: Rules = DEFAULT_RULES,
) -> Basis:
    now = now or utcnow()
    windows = impact.failure_windows(session=session, incident=incident, now=now)
    month_start = incident.started_at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month_end = availability.add_months(month_start, 1)
    month_micros = (month_end - month_start) // MICROSECOND
    ids = sorted({w.component_id for w in windows})
    keys = dict(
        session.execute(select(Component.id, Component.key).where(Component.id.in_(ids))).all()
    )
    uptime: dict[str, Decimal] = {}
    component_ppm: dict[int, int] = {}
    close = incident.resolved_at or now
    for component_id in ids:
        past = availability.history(
            session=session, component=keys[component_id], now=now, rules=rules
        )
        # the whole month is the denominator even mid-month: the history already
        # stops at ``now``, and the rest of the month cannot lower the figure
        whole = max(now, month_end)
        month = availability.measure(past, month_start, month_end, now=whole, rules=rules)
        uptime[keys[component_id]] = month.percent if month.percent is not None else Decimal(100)
        if policy.kind == "tiered":
            component_ppm[component_id] = policy.ppm(
                policy.tier_percent(uptime[keys[component_id]])
            )
        elif policy.kind == "pro_rata":
            down = availability.measure(past, incident.started_at, close, now=now, rules=rules)
            micros = down.down_seconds * 1_000_000
            component_ppm[component_id] = int(micros * policy.multiplier * PPM / month_micros)
    since = incident.started_at - dt.timedelta(days=policy.repeat_days)
    recent = session.scalars(
        select(Incident.id).where(
            Incident.id != incident.id,
            Incident.started_at >= since,
            Incident.started_at <= incident.started_at,
        )
    ).all()
    return Basis(incident, windows, month_start, uptime, component_ppm, list(recent))


def credit_rows(
    b: Basis, policy: Policy, lo: int | None = None, hi: int | None = None
) -> Select[Any]:
    """SELECT of (site_id, customer_id, currency, price, fee_ppm, amount): one row per credit."""
    site_columns = (
        Site.id.label("site_id"),
        Site.customer_id.label("customer_id"),
        Site.monthly_price_minor.label("price"),
        Site.currency.label("currency"),
    )
    if policy.kind == "flat":
        # Every affected site gets the same share: which of its links were hit
        # does not matter, so the sites are found by a semi-join — no join of
        # all caught links, no GROUP BY to fold them back (docs/benchmarks.md).
        ppm: ColumnElement[Any] = _int(int(policy.months * PPM))
    else:
        ppm = _worst_share(b, lo, hi)
    per_site = impact.caught_sites(b.windows, *site_columns, ppm.label("ppm"), lowest=lo, below=hi)
    per_site = per_site.where(Site.state.in_(policy.states))
    if policy.plans:
        per_site = per_site.where(Site.plan.in_(policy.plans))
    if policy.customer_tiers:
        tiers = select(Customer.id).where(Customer.tier.in_(policy.customer_tiers))
        per_site = per_site.where(Site.customer_id.in_(tiers))
    sub = per_site.subquery("per_site")

    contract = policy.ppm(policy.contract_percent)
    if policy.floor and contract:
        sub = _step(sub, case((sub.c.ppm < _int(contract), _int(contract)), else_=sub.c.ppm))
    if policy.escalation_percent and b.recent_incidents:
        again = exists().where(
            Credit.customer_id == sub.c.customer_id, Credit.incident_id.in_(b.recent_incidents)
        )
        raised = sub.c.ppm * _int(PPM + policy.ppm(policy.escalation_percent)) // _int(PPM)
        sub = _step(sub, case((again, raised), else_=sub.c.ppm))
    if policy.cap_percent is not None:
        cap = _int(policy.ppm(policy.cap_percent))
        sub = _step(sub, case((sub.c.ppm > cap, cap), else_=sub.c.ppm))
    shared = select(
        sub.c.site_id, sub.c.customer_id, sub.c.currency, sub.c.price, sub.c.ppm.label("fee_ppm")
    ).subquery("shared")
    fee = shared.c.fee_ppm
    amount = amount_of(shared.c.price, fee, policy.rounding)
    if policy.minimum_minor:
        amount = case(
            (fee <= _int(0), _int(0)),
            (amount < _int(policy.minimum_minor), _int(policy.minimum_minor)),
            else_=amount,
        )
    rows = select(
        shared.c.site_id,
        shared.c.customer_id,
        shared.c.currency,
        shared.c.price,
        fee.label("fee_ppm"),
        amount.label("amount"),
    ).subquery("credit")
    return select(rows).where(rows.c.amount > 0)


def _worst_share(b: Basis, lo: int | None, hi: int | None) -> ColumnElement[Any]:
    """Tiered and pro-rata: a site's share is that of the worst component that
    caught it — a ``CASE`` testing the shares from the largest down, each by
    the semi-join of :func:`impact.caught_through` for the components with
    that share (one outage spread to its dependents usually gives them all
    the same share: one test). No join of the caught links, no GROUP BY."""
    by_share: dict[int, set[int]] = {}
    for component_id, ppm in b.component_ppm.items():
        if ppm > 0:
            by_share.setdefault(ppm, set()).add(component_id)
    if not by_share:
        return _int(0)
    grades = [
        (impact.caught_through(b.windows, ids, lowest=lo, below=hi), _int(ppm))
        for ppm, ids in sorted(by_share.items(), reverse=True)
    ]
    return case(*grades, else_=_int(0))


#: PostgreSQL: a first issuance at least this large loads with the indexes and
#: foreign keys of ``credits`` dropped and rebuilt (see :func:`_bulk_load`).
BULK_SITES = 200_000


def _staged(session: Session, found: Select[Any]) -> Any:
    """PostgreSQL bulk load: the batch's credits computed into a temporary
    table first, by ``CREATE TABLE … AS``, which may use parallel workers
    (PostgreSQL 15 never runs the SELECT of an ``INSERT … SELECT`` in
    parallel); the INSERT then only copies them."""
    create = found.into(f"credit_stage_{uuid.uuid4().hex[:12]}", temporary=True)
    session.execute(create)
    return create.table


def _bulk_load(session: Session, incident_id: int) -> bool:
    """PostgreSQL, first issuance of a big incident into a table not much bigger:
    load like ``pg_restore`` — without indexes and foreign keys, rebuilt after.

    Why: checking four foreign keys and maintaining three indexes row by row cost
    ~100 s for 1.1 M credits on the 2-core machine; the rebuild checks each
    foreign key with one join and builds each index by sorting
    (docs/benchmarks.md). The primary key goes too (with the key of
    ``credit_events`` that points at it), the credits numbered by the INSERT
    from one block of the sequence: 5.7 M credits were written in ~8.5 s
    instead of ~12 s, the key then built in ~1.6 s, and 16 % less WAL.
    Every table it will lock is locked first (so no one issues, redeems or
    reads credits, their events, sites, customers or incidents until the
    commit), then ``credits`` is checked for credits of this incident: a
    re-issue takes the ordinary ON CONFLICT path instead, and so does a load
    that could not get its locks while readers held them.
    """
    conn = session.connection()
    if not is_postgres(session):
        return False
    sites = estimated_rows(conn, Site.__table__)
    existing = estimated_rows(conn, Credit.__table__)
    if sites < BULK_SITES or existing > sites or not _locked(session):
        return False
    return not _issued_any(session, incident_id)


def _locked(session: Session) -> bool:
    """Every table the bulk load will lock, taken at once — or, when readers
    hold one for ``LOCK_TRIES`` tries, not at all (the ordinary path then)."""
    names = locked_by([Credit.__table__], [Credit.__table__])
    conn = session.connection()
    return locked_at_once(conn, names, tries=LOCK_TRIES, pause=LOCK_PAUSE)


def amount_of(price: Any, fee_ppm: Any, rounding: str) -> ColumnElement[Any]:
    """``price × fee_ppm ÷ 10⁶`` rounded to the minor unit, in integer SQL (both
    operands are non-negative, so integer division is floor division)."""
    return (price * fee_ppm + _int(_ROUNDING[rounding])) // _int(PPM)  # type: ignore[no-any-return]


def _step(sub: Any, ppm: ColumnElement[Any]) -> Any:
    """One adjustment of the share (floor, escalation, cap) as its own level, so
    each CASE names the previous share once instead of nesting copies of it."""
    return select(
        sub.c.site_id, sub.c.customer_id, sub.c.currency, sub.c.price, ppm.label("ppm")
    ).subquery()


@dataclass
class Issued:
    incident_id: int
    policy: str
    created: int
    batches: int
    seconds: float = 0.0
    bulk: bool = False  # PostgreSQL's bulk load, with its locks (see _bulk_load)
    by_currency: dict[str, dict[str, int]] = field(default_factory=dict)


def issue(
    *,
    session: Session,
    incident: Incident,
    policy_row: CreditPolicy,
    policy: Policy,
    actor: str = "amends",
    now: dt.datetime | None = None,
    batch_sites: int = BATCH_SITES,
    rules: Rules = DEFAULT_RULES,
) -> Issued:
    """Create the incident's credits; sites that already have one are left alone."""
    now = now or utcnow()
    b = basis(session=session, incident=incident, policy=policy, now=now, rules=rules)
    result = Issued(incident.id, f"{policy_row.key}@{policy_row.version}", 0, 0)
    if not b.windows:
        return result
    tune_for_bulk(session.connection())
    available_at = now + dt.timedelta(days=policy.available_after_days)
    expires_at = (
        available_at + dt.timedelta(days=policy.expires_after_days)
        if policy.expires_after_days
        else None
    )
    low, high = session.execute(select(func.min(Site.id), func.max(Site.id))).one()
    if low is None:
        return result
    conn = session.connection()
    bulk = result.bulk = _bulk_load(session, incident.id)
    # SQLite, nothing issued yet for this incident: a plain INSERT. The
    # unique (incident, site) index still guards (a concurrent issuer makes
    # this one fail, not duplicate); a re-issue takes ON CONFLICT DO NOTHING.
    first = bulk or (not is_postgres(session) and not _issued_any(session, incident.id))
    before = session.scalar(select(func.max(Credit.id))) or 0
    credits = Credit.__table__
    rebuilt = indexes_rebuilt(conn, [credits], [credits], merge_above=BULK_SITES)
    first_id = ids_from(conn, credits) if bulk else 0
    with rebuilt if bulk else nullcontext():
        step = BULK_BATCH_SITES if bulk else batch_sites
        for lo in range(low, high + 1, step):
            found = credit_rows(b, policy, lo, lo + step).subquery("c")
            values = [
                _int(incident.id),
                found.c.site_id,
                found.c.customer_id,
                _int(policy_row.id),
                found.c.amount,
                found.c.currency,
                found.c.fee_ppm,
                literal("issued", String),
                literal(policy.auto_apply, Boolean),
                literal(actor[:100], String),
                literal(now, UTCDateTime),
                literal(available_at, UTCDateTime),
                literal(expires_at, UTCDateTime),
            ]
            if bulk:
                created = _load_batch(session, values, first_id + result.created)
            else:
                created = _insert_batch(session, values, found, incident.id, plain=first)
            result.created += created
            result.batches += 1
    if bulk:
        if result.created:
            ids_used(conn, credits, first_id + result.created - 1)
        analyze(conn, credits)
    if result.created:  # billing hears of them, 1,000 credits an event, in this transaction
        webhooks.issued(
            session=session, incident_id=incident.id, at=now, after_id=before,
            created=result.created,
        )  # fmt: skip
    session.flush()
    return result


#: The columns an issuance writes, in the order of the values it computes.
COLUMNS = [
    "incident_id", "site_id", "customer_id", "policy_id", "amount_minor", "currency",
    "fee_ppm", "state", "auto_apply", "issued_by", "issued_at", "available_at", "expires_at",
]  # fmt: skip


def _load_batch(session: Session, values: list[ColumnElement[Any]], first_id: int) -> int:
    """PostgreSQL bulk load, one batch: the credits computed — numbered from
    ``first_id``, every column typed as in ``credits`` — into a temporary table
    by a possibly parallel ``CREATE TABLE … AS`` (:func:`_staged`), then copied
    as they are. Numbering and the constants cost the serial INSERT ~1 s per
    5.7 M credits when it computed them (docs/benchmarks.md)."""
    table = Credit.__table__
    numbered = (_int(first_id - 1) + func.row_number().over()).label("id")
    pairs = zip(values, COLUMNS, strict=True)
    typed = [cast(value, table.c[name].type).label(name) for value, name in pairs]
    stage = _staged(session, select(numbered, *typed))
    names = ["id", *COLUMNS]
    copied = select(*(stage.c[name] for name in names))
    outcome = session.execute(
        table.insert().from_select(names, copied).execution_options(preserve_rowcount=True)
    )
    session.execute(DropTable(stage))
    return max(0, outcome.rowcount or 0)  # type: ignore[attr-defined]


def _insert_batch(
    session: Session,
    values: list[ColumnElement[Any]],
    found: Subquery,
    incident_id: int,
    *,
    plain: bool,
) -> int:
    """One batch by ``INSERT … SELECT``: ``plain`` when nothing of the incident
    is issued yet (SQLite's first issuance), else leaving out what is."""
    chosen = select(*values).where(true())  # SQLite: without a WHERE, ON CONFLICT parses as ON
    if plain:
        stmt = Credit.__table__.insert()
    else:
        # The sites already credited are left out before the insert, by one
        # anti-join: ON CONFLICT alone would attempt each of them (on
        # PostgreSQL drawing an id from the sequence for each); it stays for
        # a concurrent issuer.
        done = exists().where(
            Credit.incident_id == _int(incident_id), Credit.site_id == found.c.site_id
        )
        chosen = chosen.where(~done)
        stmt = insert_ignoring(session, Credit.__table__, ["incident_id", "site_id"])
    outcome = session.execute(
        stmt.from_select(COLUMNS, chosen).execution_options(preserve_rowcount=True)
    )
    return max(0, outcome.rowcount or 0)  # type: ignore[attr-defined]


def _issued_any(session: Session, incident_id: int) -> bool:
    """Whether the incident has a credit already (the unique index answers)."""
    found = select(Credit.id).where(Credit.incident_id == incident_id).limit(1)
    return session.scalar(found) is not None
