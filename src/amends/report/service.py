"""The after-action report: how an incident was communicated, and how it landed.

What the team reads the day after: how fast the first notice went out, the
longest silence while it was open, how long the apology took (the cadence,
from what the delivery ledger says was really sent); how many messages
reached people on each channel, failed, were not sent because the customer
opted out, or are still owed; how customers rated our handling, in each
language, with their comments; and the credits issued and redeemed.

Every figure is one set-based query (GROUP BY) over the ledger, the ratings
or the credits — the ledger is read in one pass for both the cadence and the
reach, plus one DISTINCT for the people reached — so the report costs the
same few statements for ten customers or five million
(``benchmarks/report.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from amends.credits import service as credit_service
from amends.credits.models import CreditState
from amends.db import utcnow
from amends.delivery.models import Delivery, DeliveryState, Notice, NoticeKind
from amends.delivery.recipients import NO_ADDRESS
from amends.incidents import cadence
from amends.incidents import service as incident_service
from amends.ratings import service as ratings

#: Ledger notice kinds as the cadence policy names them (maintenance and breach
#: notices are not part of the first-notice / update / apology rhythm).
CADENCE_KINDS = {
    NoticeKind.first: cadence.Notice.first_notice,
    NoticeKind.update: cadence.Notice.update,
    NoticeKind.resolution: cadence.Notice.resolution,
    NoticeKind.apology: cadence.Notice.apology,
}
OUTCOMES = ("delivered", "failed", "opted_out", "no_address", "pending")
#: Comments shown per language in the report; ``--comments-csv`` exports them all.
COMMENTS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class Tally:
    """One group of the incident's ledger rows: a notice, a channel, an outcome."""

    notice_id: int
    kind: NoticeKind
    channel: str
    outcome: str
    count: int
    first_sent: dt.datetime | None


def ledger_tally(*, session: Session, incident_id: int) -> list[Tally]:
    """The incident's deliveries by notice, channel and outcome, with the first
    time each group reached someone: ONE pass over the ledger, from which both
    the cadence and the reach are read.

    Outcomes: delivered (the provider accepted it), failed, opted out and no
    address (both suppressed, told apart by the ledger's reason), pending
    (owed, or leased to a worker)."""
    outcome = case(
        (Delivery.state == DeliveryState.sent, "delivered"),
        (Delivery.state == DeliveryState.failed, "failed"),
        (
            and_(Delivery.state == DeliveryState.suppressed, Delivery.last_error == NO_ADDRESS),
            "no_address",
        ),
        (Delivery.state == DeliveryState.suppressed, "opted_out"),
        else_="pending",
    ).label("outcome")
    rows = session.execute(
        select(
            Notice.id, Notice.kind, Delivery.channel, outcome, func.count(),
            func.min(Delivery.sent_at),
        )
        .join(Delivery, Delivery.notice_id == Notice.id)
        .where(Notice.incident_id == incident_id)
        .group_by(Notice.id, Notice.kind, Delivery.channel, outcome)
    ).all()  # fmt: skip
    return [Tally(*row) for row in rows]


def sent_from_ledger(
    *, session: Session, incident_id: int, tally: list[Tally] | None = None
) -> list[tuple[cadence.Notice, dt.datetime]]:
    """When each notice of the incident first reached anyone: the earliest
    ``sent_at`` of its deliveries. A notice that nobody received yet does not
    count as sent; maintenance and breach notices are not part of the cadence."""
    first: dict[int, tuple[NoticeKind, dt.datetime]] = {}
    for t in tally if tally is not None else ledger_tally(session=session, incident_id=incident_id):
        if t.first_sent is None or t.kind not in CADENCE_KINDS:
            continue
        seen = first.get(t.notice_id)
        if seen is None or t.first_sent < seen[1]:
            first[t.notice_id] = (t.kind, t.first_sent)
    return [(CADENCE_KINDS[kind], at) for kind, at in first.values()]


def cadence_from_ledger(
    *,
    session: Session,
    incident_id: int,
    now: dt.datetime | None = None,
    tally: list[Tally] | None = None,
) -> cadence.CadenceRecord:
    """The incident's :class:`~amends.incidents.cadence.CadenceRecord` from the ledger."""
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    return cadence.record(
        opened_at=incident.started_at,
        resolved_at=incident.resolved_at,
        sent=sent_from_ledger(session=session, incident_id=incident_id, tally=tally),
        now=now or utcnow(),
    )


def reach(
    *, session: Session, incident_id: int, tally: list[Tally] | None = None
) -> dict[str, dict[str, Any]]:
    """Messages by channel and outcome, overall and per notice kind."""
    by_channel: dict[str, dict[str, int]] = {}
    by_notice: dict[str, dict[str, dict[str, int]]] = {}
    for t in tally if tally is not None else ledger_tally(session=session, incident_id=incident_id):
        total = by_channel.setdefault(t.channel, dict.fromkeys(OUTCOMES, 0))
        total[t.outcome] += t.count
        mine = by_notice.setdefault(str(t.kind), {}).setdefault(
            t.channel, dict.fromkeys(OUTCOMES, 0)
        )
        mine[t.outcome] += t.count
    order = [k.value for k in NoticeKind]
    return {
        "by_channel": dict(sorted(by_channel.items())),
        "by_notice": {k: dict(sorted(by_notice[k].items())) for k in order if k in by_notice},
    }


def people_reached(*, session: Session, incident_id: int) -> int:
    """Distinct recipients who received at least one message about the incident."""
    reached = (
        select(Delivery.recipient_kind, Delivery.recipient_id)
        .join(Notice, Notice.id == Delivery.notice_id)
        .where(Notice.incident_id == incident_id, Delivery.state == DeliveryState.sent)
        .distinct()
        .subquery()
    )
    return session.scalar(select(func.count()).select_from(reached)) or 0


def credits_outcome(*, session: Session, incident_id: int) -> dict[str, dict[str, dict[str, int]]]:
    """Credits issued (every credit not voided) and redeemed (claimed, or applied
    automatically, whether or not billing has put them on an invoice yet), and
    what is still open, expired or void: count and value per currency."""
    states = credit_service.report(session=session, incident_id=incident_id)["by_state"]
    groups = {
        "issued": [s for s in CreditState if s is not CreditState.void],
        "redeemed": [CreditState.redeemed, CreditState.applied],
        "open": [CreditState.issued, CreditState.available],
        "expired": [CreditState.expired],
        "void": [CreditState.void],
    }
    out: dict[str, dict[str, dict[str, int]]] = {}
    for name, members in groups.items():
        totals: dict[str, dict[str, int]] = {}
        for state in members:
            for currency, got in states.get(state.value, {}).items():
                total = totals.setdefault(currency, {"credits": 0, "amount_minor": 0})
                total["credits"] += got["credits"]
                total["amount_minor"] += got["amount_minor"]
        out[name] = dict(sorted(totals.items()))
    return out


@dataclass
class AfterAction:
    """The whole report; :meth:`to_dict` is the JSON the API and ``--json`` give."""

    incident: dict[str, Any]
    cadence: cadence.CadenceRecord
    policy: cadence.CadencePolicy
    reach: dict[str, Any]
    people_reached: int
    ratings: ratings.RatingSummary
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    credits: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        targets = {
            "time_to_first_notice": self.policy.first_notice_within,
            "longest_update_gap": self.policy.update_every,
            "time_to_apology": self.policy.apology_within,
        }
        timing = {
            name: _timing(getattr(self.cadence, name), target) for name, target in targets.items()
        }
        r = self.ratings
        return {
            "incident": self.incident,
            "cadence": timing,
            "reach": {"people_reached": self.people_reached, **self.reach},
            "ratings": {
                "count": r.count,
                "average": r.average,
                "distribution": {str(k): v for k, v in r.distribution.items()},
                "comments": r.comments,
                "by_language": {
                    lang: {
                        **got,
                        "distribution": {str(k): v for k, v in got["distribution"].items()},
                    }
                    for lang, got in r.by_language.items()
                },
            },
            "comments": {
                lang: [{**c, "at": c["at"].isoformat()} for c in items]
                for lang, items in self.comments.items()
            },
            "credits": self.credits,
        }


def _timing(value: dt.timedelta | None, target: dt.timedelta) -> dict[str, Any]:
    seconds = int(value.total_seconds()) if value is not None else None
    target_seconds = int(target.total_seconds())
    return {
        "seconds": seconds,
        "target_seconds": target_seconds,
        "met": seconds <= target_seconds if seconds is not None else None,
    }


def after_action(
    *,
    session: Session,
    incident_id: int,
    now: dt.datetime | None = None,
    comments_shown: int = COMMENTS_SHOWN,
    policy: cadence.CadencePolicy = cadence.CadencePolicy(),
) -> AfterAction:
    """The incident's communication record, for the review the day after."""
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    tally = ledger_tally(session=session, incident_id=incident_id)
    summary = ratings.summary(session=session, incident_id=incident_id)
    comments = {
        lang: list(
            ratings.comments(
                session=session, incident_id=incident_id, lang=lang, limit=comments_shown
            )
        )
        for lang in summary.by_language
    }
    return AfterAction(
        incident={
            "id": incident.id,
            "title": incident.title,
            "status": str(incident.status),
            "started_at": incident.started_at.isoformat(),
            "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        },
        cadence=cadence_from_ledger(session=session, incident_id=incident_id, now=now, tally=tally),
        policy=policy,
        reach=reach(session=session, incident_id=incident_id, tally=tally),
        people_reached=people_reached(session=session, incident_id=incident_id),
        ratings=summary,
        comments={lang: items for lang, items in comments.items() if items},
        credits=credits_outcome(session=session, incident_id=incident_id),
    )
