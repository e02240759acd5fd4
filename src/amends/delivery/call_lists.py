"""The phone chain's side of the ledger: managers' lists, and automated calls
for the customers nobody reached.

Both go through the delivery ledger as notices of their own kind rather than
as direct sends through a channel, because the ledger already gives what a
direct send would have to rebuild: a row written in the same transaction as
the assignment (no list lost if the process dies before sending), one row per
(notice, recipient, channel) under a UNIQUE key (nothing sent twice, however
often a run is repeated), leases, retries with backoff, provider receipts,
and the counts in ``amends deliveries``.

- ``call_list``: one notice per assignment round (``update_key`` numbers the
  rounds, since the same incident can be dealt out again for another tier);
  a row per manager who was given customers in that round, by e-mail, and by
  SMS when they have a phone. The list itself is read when the row is sent
  (``messages.call_lists``), so it shows the outcomes recorded by then.
- ``escalation``: one notice per incident; a voice row per customer whose
  deadline passed while still unreached (no call, voicemail or no answer).
  The assignments are claimed first by one conditional UPDATE
  (``calls.service.mark_escalated``), and the rows are inserted from the
  assignments *that* UPDATE took, with ON CONFLICT DO NOTHING besides: two
  runs at once (the inline loop, a Procrastinate worker, cron) place one call
  per customer. A customer who opted out of voice calls, or has no phone,
  gets a ``suppressed`` row: the decision is recorded, nobody is called.
  The customer's ``notify_voice`` choice is not asked: the call replaces the
  manager's call that they did not get.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Integer, String, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from amends.calls import service as calls
from amends.calls.models import AccountManager
from amends.catalog.models import Customer
from amends.db import UTCDateTime, insert_ignoring, utcnow
from amends.delivery.models import Delivery, DeliveryState, Notice, NoticeKind, RecipientKind
from amends.delivery.recipients import LEDGER_COLUMNS, NO_ADDRESS, OPTED_OUT
from amends.delivery.service import NoticeResult

# Notices of the phone chain are never asked for through issue_notice.
PHONE_CHAIN = (NoticeKind.call_list, NoticeKind.escalation)


@dataclass
class Escalation:
    """What one escalation run did, per incident: calls owed (and suppressed)."""

    incidents: dict[int, int]
    notice_ids: list[int]

    @property
    def total(self) -> int:
        return sum(self.incidents.values())


def _notice(
    session: Session, incident_id: int, kind: NoticeKind, key: int, now: dt.datetime
) -> Notice:
    """Find or create the notice; concurrent creators meet on its UNIQUE key."""
    session.execute(
        insert_ignoring(session, Notice).values(
            incident_id=incident_id, kind=kind.value, update_id=None, update_key=key, created_at=now
        )
    )
    notice = session.scalar(
        select(Notice).where(
            Notice.incident_id == incident_id, Notice.kind == kind, Notice.update_key == key
        )
    )
    assert notice is not None
    return notice


def _const(value: object, type_: object) -> object:
    return literal(value, type_)  # type: ignore[arg-type]


def send_lists(
    *, session: Session, incident_id: int, assigned_at: dt.datetime, now: dt.datetime | None = None
) -> NoticeResult | None:
    """Owe each manager given customers at ``assigned_at`` their list: one row
    by e-mail, one by SMS if they have a phone. None when nobody was given any."""
    now = now or utcnow()
    managers = calls.managers_of(incident_id=incident_id, assigned_at=assigned_at).subquery()
    if not session.scalar(select(func.count()).select_from(managers)):
        return None
    rounds = select(func.coalesce(func.max(Notice.update_key), 0)).where(
        Notice.incident_id == incident_id, Notice.kind == NoticeKind.call_list
    )
    notice = _notice(
        session, incident_id, NoticeKind.call_list, int(session.scalar(rounds) or 0) + 1, now
    )
    channels = union_all(
        select(literal("email", String(16)).label("channel")),
        select(literal("sms", String(16)).label("channel")),
    ).subquery("ch")
    address = case(
        (channels.c.channel == "email", AccountManager.email), else_=AccountManager.phone
    )
    rows = (
        select(
            _const(notice.id, Integer()),
            _const(RecipientKind.manager.value, String(16)),
            AccountManager.id,
            channels.c.channel,
            address,
            AccountManager.locale,
            _const(DeliveryState.pending.value, String(16)),
            _const(0, Integer()),
            _const(now, UTCDateTime()),
            _const(None, String()),
            _const(now, UTCDateTime()),
        )
        .join(managers, managers.c.manager_id == AccountManager.id)
        .join(channels, or_(channels.c.channel == "email", AccountManager.phone.is_not(None)))
    )
    result = session.execute(
        insert_ignoring(session, Delivery)
        .from_select(LEDGER_COLUMNS, rows)
        .execution_options(preserve_rowcount=True)
    )
    session.flush()
    added = max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    return NoticeResult(notice=notice, created=True, deliveries=added)


def escalate(*, session: Session, now: dt.datetime | None = None) -> Escalation:
    """Owe an automated call to every customer whose list's deadline passed
    while nobody reached them, across incidents; set-based per incident."""
    now = now or utcnow()
    done = Escalation(incidents={}, notice_ids=[])
    for incident_id in calls.incidents_due(session=session, now=now):
        if not calls.mark_escalated(session=session, incident_id=incident_id, now=now):
            continue  # another run took them first
        notice = _notice(session, incident_id, NoticeKind.escalation, 0, now)
        taken = calls.escalated(incident_id=incident_id, at=now).subquery()
        missing = or_(Customer.phone.is_(None), Customer.phone == "")
        rows = (
            select(
                _const(notice.id, Integer()),
                _const(RecipientKind.customer.value, String(16)),
                Customer.id,
                _const("voice", String(16)),
                Customer.phone,
                Customer.locale,
                case(
                    (Customer.opt_out_voice, DeliveryState.suppressed.value),
                    (missing, DeliveryState.suppressed.value),
                    else_=DeliveryState.pending.value,
                ),
                _const(0, Integer()),
                _const(now, UTCDateTime()),
                case((Customer.opt_out_voice, OPTED_OUT), (missing, NO_ADDRESS), else_=None),
                _const(now, UTCDateTime()),
            )
            .select_from(Customer)
            .join(taken, taken.c.customer_id == Customer.id)
        )
        result = session.execute(
            insert_ignoring(session, Delivery)
            .from_select(LEDGER_COLUMNS, rows)
            .execution_options(preserve_rowcount=True)
        )
        done.incidents[incident_id] = max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
        done.notice_ids.append(notice.id)
    session.flush()
    return done
