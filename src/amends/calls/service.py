"""Phone chain: assign affected customers of chosen tiers to account managers,
record how each call went, and find who is still unreached after the
escalation time so the ledger can place an automated call.

Assignment is one INSERT … SELECT: the affected customers come from the
impact query, are numbered in SQL and dealt round-robin to the active
managers, so a million affected customers never pass through Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from amends import impact
from amends.calls.models import AccountManager, CallAssignment, CallOutcome
from amends.catalog.models import Customer
from amends.db import UTCDateTime, utcnow
from amends.errors import Conflict, NotFound, ValidationFailed
from amends.incidents import service as incident_service

#: How long managers have to reach their customers before an automated call.
DEFAULT_ESCALATION = dt.timedelta(minutes=60)
LOCALES = ("en", "es")


def add_manager(
    *,
    session: Session,
    name: str,
    email: str,
    phone: str | None = None,
    locale: str = "en",
) -> AccountManager:
    """Someone who phones customers; their list reaches them by e-mail, and by
    SMS when they have a phone, in their language (en or es)."""
    email = email.strip().lower()
    if not name.strip() or "@" not in email:
        raise ValidationFailed("an account manager needs a name and an e-mail", field="email")
    locale = locale.strip().lower()
    if locale.split("-")[0].split("_")[0] not in LOCALES:
        raise ValidationFailed(f"locale {locale!r}: say en or es", field="locale")
    if session.scalar(select(AccountManager.id).where(AccountManager.email == email)):
        raise Conflict(f"account manager {email} exists", field="email")
    manager = AccountManager(
        name=name.strip(), email=email, phone=phone or None, locale=locale, active=True
    )
    session.add(manager)
    session.flush()
    return manager


def list_managers(*, session: Session) -> list[AccountManager]:
    return list(session.scalars(select(AccountManager).order_by(AccountManager.id)))


def assign(
    *,
    session: Session,
    incident_id: int,
    tiers: Sequence[str],
    escalate_after: dt.timedelta = DEFAULT_ESCALATION,
    now: dt.datetime | None = None,
) -> int:
    """Deal the incident's affected customers of ``tiers`` to the active managers.

    Customers already on this incident's list keep their manager; new ones
    continue the round from where it stopped. Each new assignment gets its
    escalation time (``now + escalate_after``): the list's deadline, after
    which a customer nobody reached gets an automated call. Returns how many
    were added; they are the rows with ``assigned_at == now``.
    """
    if not tiers:
        raise ValidationFailed("name at least one tier to call", field="tier")
    if escalate_after < dt.timedelta(0):
        raise ValidationFailed("the escalation time cannot be negative", field="escalate_after")
    now = now or utcnow()
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    managers = (
        select(
            AccountManager.id.label("manager_id"),
            (func.row_number().over(order_by=AccountManager.id) - 1).label("slot"),
        )
        .where(AccountManager.active.is_(True))
        .subquery()
    )
    count = session.scalar(select(func.count()).select_from(managers)) or 0
    if not count:
        raise ValidationFailed("no active account managers to assign calls to", field="manager")
    windows = impact.failure_windows(session=session, incident=incident, now=now)
    if not windows:
        return 0
    hit = impact.affected_sites(windows).subquery()
    already = (
        session.scalar(select(func.count()).where(CallAssignment.incident_id == incident_id)) or 0
    )
    targets = (
        select(hit.c.customer_id)
        .join(Customer, Customer.id == hit.c.customer_id)
        .where(
            Customer.tier.in_(list(tiers)),
            ~exists().where(
                CallAssignment.incident_id == incident_id,
                CallAssignment.customer_id == hit.c.customer_id,
            ),
        )
        .distinct()
        .subquery()
    )
    numbered = select(
        targets.c.customer_id,
        ((func.row_number().over(order_by=targets.c.customer_id) - 1 + already) % count).label(
            "slot"
        ),
    ).subquery()
    rows = select(
        literal(incident_id),
        numbered.c.customer_id,
        managers.c.manager_id,
        literal(now, UTCDateTime()),
        literal(now + escalate_after, UTCDateTime()),
        literal(0),
        literal(""),
    ).join(managers, managers.c.slot == numbered.c.slot)
    columns = ["incident_id", "customer_id", "manager_id", "assigned_at", "escalate_at"]
    session.execute(
        insert(CallAssignment).from_select(
            [*columns, "attempts", "notes"],
            rows,
        )
    )
    session.flush()
    # rowcount of INSERT … SELECT is not reported by every driver (psycopg: -1)
    return _assigned(session, incident_id) - already


def _assigned(session: Session, incident_id: int) -> int:
    query = select(func.count()).where(CallAssignment.incident_id == incident_id)
    return session.scalar(query) or 0


def call_list(
    *,
    session: Session,
    incident_id: int,
    manager_email: str | None = None,
    unreached_only: bool = False,
) -> list[dict[str, object]]:
    """The calls to make: customer, phone, manager, last outcome."""
    incident_service.get_incident(session=session, incident_id=incident_id)
    query = (
        select(
            CallAssignment.id,
            CallAssignment.customer_id,
            Customer.external_id,
            Customer.name,
            Customer.phone,
            Customer.locale,
            Customer.tier,
            AccountManager.email.label("manager"),
            CallAssignment.outcome,
            CallAssignment.attempts,
            CallAssignment.called_at,
            CallAssignment.escalate_at,
            CallAssignment.escalated_at,
            CallAssignment.notes,
        )
        .join(Customer, Customer.id == CallAssignment.customer_id)
        .join(AccountManager, AccountManager.id == CallAssignment.manager_id)
        .where(CallAssignment.incident_id == incident_id)
        .order_by(AccountManager.email, CallAssignment.id)
    )
    if manager_email:
        query = query.where(AccountManager.email == manager_email.strip().lower())
    if unreached_only:
        query = query.where(_not_reached())
    return [dict(row._mapping) for row in session.execute(query)]


def record(
    *,
    session: Session,
    assignment_id: int,
    outcome: CallOutcome,
    notes: str = "",
    now: dt.datetime | None = None,
) -> CallAssignment:
    """A manager made a call: keep how it went (the latest call counts)."""
    assignment = session.get(CallAssignment, assignment_id)
    if assignment is None:
        raise NotFound(f"no call assignment {assignment_id}", field="assignment")
    assignment.outcome = CallOutcome(outcome)
    assignment.called_at = now or utcnow()
    assignment.attempts += 1
    if notes.strip():
        assignment.notes = f"{assignment.notes}\n{notes.strip()}".strip()
    session.flush()
    return assignment


def _not_reached() -> ColumnElement[bool]:
    return or_(CallAssignment.outcome.is_(None), CallAssignment.outcome != CallOutcome.reached)


def _due(now: dt.datetime, incident_id: int | None = None) -> ColumnElement[bool]:
    """Not reached, not escalated yet, and the list's deadline has passed.

    Assignments made before deadlines were stored (``escalate_at`` empty)
    take the default time from their assignment."""
    conditions = [
        _not_reached(),
        CallAssignment.escalated_at.is_(None),
        or_(
            CallAssignment.escalate_at <= now,
            and_(
                CallAssignment.escalate_at.is_(None),
                CallAssignment.assigned_at <= now - DEFAULT_ESCALATION,
            ),
        ),
    ]
    if incident_id is not None:
        conditions.append(CallAssignment.incident_id == incident_id)
    return and_(*conditions)


def incidents_due(*, session: Session, now: dt.datetime | None = None) -> list[int]:
    """Incidents with at least one customer to escalate now (a handful)."""
    query = select(CallAssignment.incident_id).where(_due(now or utcnow())).distinct()
    return sorted(session.scalars(query))


def mark_escalated(*, session: Session, incident_id: int, now: dt.datetime | None = None) -> int:
    """Take the incident's due customers for escalation: one conditional UPDATE.

    It is the claim: two escalation runs at once cannot both take a row (on
    PostgreSQL the second UPDATE re-checks ``escalated_at`` once the first
    commits; SQLite serialises writers), so the ledger inserts automated calls
    only for :func:`escalated` rows of *this* run.
    """
    now = now or utcnow()
    result = session.execute(
        update(CallAssignment)
        .where(_due(now, incident_id))
        .values(escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def escalated(*, incident_id: int, at: dt.datetime) -> Select[tuple[int, int]]:
    """SELECT (assignment_id, customer_id) escalated by the run that used ``at``."""
    return select(CallAssignment.id, CallAssignment.customer_id).where(
        CallAssignment.incident_id == incident_id, CallAssignment.escalated_at == at
    )


def unreached_customers(
    *, incident_id: int, now: dt.datetime | None = None
) -> Select[tuple[int, int]]:
    """SELECT (assignment_id, customer_id) of customers nobody reached in time.

    Not reached means no call yet, voicemail or no answer: a message on a
    machine is not a conversation, and the point of the phone chain is that a
    person heard it.
    """
    return select(CallAssignment.id, CallAssignment.customer_id).where(
        _due(now or utcnow(), incident_id)
    )


def managers_of(*, incident_id: int, assigned_at: dt.datetime | None = None) -> Select[tuple[int]]:
    """SELECT the ids of managers with customers on the incident's list
    (only those given customers at ``assigned_at``, when named)."""
    query = select(CallAssignment.manager_id).where(CallAssignment.incident_id == incident_id)
    if assigned_at is not None:
        query = query.where(CallAssignment.assigned_at == assigned_at)
    return query.distinct()
