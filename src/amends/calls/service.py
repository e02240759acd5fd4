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


def add_manager(
    *, session: Session, name: str, email: str, phone: str | None = None
) -> AccountManager:
    email = email.strip().lower()
    if not name.strip() or "@" not in email:
        raise ValidationFailed("an account manager needs a name and an e-mail", field="email")
    if session.scalar(select(AccountManager.id).where(AccountManager.email == email)):
        raise Conflict(f"account manager {email} exists", field="email")
    manager = AccountManager(name=name.strip(), email=email, phone=phone, active=True)
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
    now: dt.datetime | None = None,
) -> int:
    """Deal the incident's affected customers of ``tiers`` to the active managers.

    Customers already on this incident's list keep their manager; new ones
    continue the round from where it stopped. Returns how many were added.
    """
    if not tiers:
        raise ValidationFailed("name at least one tier to call", field="tier")
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
        literal(0),
        literal(""),
    ).join(managers, managers.c.slot == numbered.c.slot)
    session.execute(
        insert(CallAssignment).from_select(
            ["incident_id", "customer_id", "manager_id", "assigned_at", "attempts", "notes"],
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
            Customer.external_id,
            Customer.name,
            Customer.phone,
            Customer.locale,
            Customer.tier,
            AccountManager.email.label("manager"),
            CallAssignment.outcome,
            CallAssignment.attempts,
            CallAssignment.called_at,
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


def _due(incident_id: int, escalate_after: dt.timedelta, now: dt.datetime) -> ColumnElement[bool]:
    return and_(
        CallAssignment.incident_id == incident_id,
        _not_reached(),
        CallAssignment.escalated_at.is_(None),
        CallAssignment.assigned_at <= now - escalate_after,
    )


def unreached_customers(
    *, incident_id: int, escalate_after: dt.timedelta, now: dt.datetime | None = None
) -> Select[int, int]:
    """SELECT (assignment_id, customer_id) of customers nobody reached in time.

    Not reached means no call yet, voicemail or no answer. The ledger inserts
    automated calls from this select, then calls :func:`mark_escalated` with
    the same arguments in the same transaction, so nobody is escalated twice.
    """
    now = now or utcnow()
    return select(CallAssignment.id, CallAssignment.customer_id).where(
        _due(incident_id, escalate_after, now)
    )


def mark_escalated(
    *,
    session: Session,
    incident_id: int,
    escalate_after: dt.timedelta,
    now: dt.datetime | None = None,
) -> int:
    now = now or utcnow()
    result = session.execute(
        update(CallAssignment)
        .where(_due(incident_id, escalate_after, now))
        .values(escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
