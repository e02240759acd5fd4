"""The two-person rule for customer-wide messages (the apology, the breach notice).

One person asks for the message to go out; an approver sends it. With the
rule on, the approver must be someone else, so no one person can put words
in front of every customer alone. Off, an approver may send directly (any
open request is closed by the sending).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends.db import utcnow
from amends.errors import Conflict
from amends.users.models import ApprovalRequest


def open_request(*, session: Session, incident_id: int, kind: str) -> ApprovalRequest | None:
    return session.scalar(
        select(ApprovalRequest)
        .where(
            ApprovalRequest.incident_id == incident_id,
            ApprovalRequest.kind == kind,
            ApprovalRequest.approved_at.is_(None),
        )
        .order_by(ApprovalRequest.id.desc())
        .limit(1)
    )


def ask(
    *, session: Session, incident_id: int, kind: str, who: str, now: dt.datetime | None = None
) -> ApprovalRequest:
    """Ask for the message to be sent; asking twice keeps the first request."""
    found = open_request(session=session, incident_id=incident_id, kind=kind)
    if found is not None:
        return found
    row = ApprovalRequest(
        incident_id=incident_id, kind=kind, requested_by=who, requested_at=now or utcnow()
    )
    session.add(row)
    session.flush()
    return row


def approve(
    *,
    session: Session,
    incident_id: int,
    kind: str,
    who: str,
    two_person: bool,
    now: dt.datetime | None = None,
) -> ApprovalRequest | None:
    """Record ``who``'s approval; refuse it when the rule needs another person."""
    found = open_request(session=session, incident_id=incident_id, kind=kind)
    if two_person:
        if found is None:
            raise Conflict(
                f"the two-person rule is on: someone must ask for this {kind} first",
                field="approval",
            )
        if found.requested_by == who:
            raise Conflict(
                f"the two-person rule is on: {who} asked for this {kind} and cannot "
                "also approve it",
                field="approval",
            )
    if found is not None:
        found.approved_by = who
        found.approved_at = now or utcnow()
    return found
