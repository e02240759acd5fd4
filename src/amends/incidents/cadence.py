"""Early and often: what is due, when, and how well the cadence was kept.

The policy (issue 4, item 5; domain-research §3.4 T1–T3): a first notice
within N minutes of opening (default 15), an update at least every M minutes
until resolved (default 30), the apology within H hours of resolution
(default 48). Pure functions over times, so the delivery ledger (which knows
what was really sent) and the incident timeline (what the operator posted)
can both feed them.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from amends.errors import ValidationFailed
from amends.incidents.models import Incident, IncidentStatus


class Notice(enum.StrEnum):
    first_notice = "first_notice"
    update = "update"
    resolution = "resolution"
    apology = "apology"


@dataclass(frozen=True)
class CadencePolicy:
    first_notice_within: dt.timedelta = dt.timedelta(minutes=15)
    update_every: dt.timedelta = dt.timedelta(minutes=30)
    apology_within: dt.timedelta = dt.timedelta(hours=48)
    #: Post a holding update ("still working on it; next update by …") when one is overdue.
    auto_holding_update: bool = False

    def __post_init__(self) -> None:
        for name in ("first_notice_within", "update_every", "apology_within"):
            value = getattr(self, name)
            if value <= dt.timedelta(0):
                raise ValidationFailed(f"{name} must be positive, not {value}", field=name)
            if value > LONGEST[name]:
                raise ValidationFailed(
                    f"{name} must be at most {LONGEST[name]}, not {value}", field=name
                )

    @classmethod
    def of(
        cls,
        *,
        first_notice_minutes: int = 15,
        update_minutes: int = 30,
        apology_hours: int = 48,
        auto_holding_update: bool = False,
    ) -> CadencePolicy:
        """From the units people set it in (minutes, minutes, hours), checked."""
        for name, value, unit in (
            ("first_notice_within", first_notice_minutes, "minutes"),
            ("update_every", update_minutes, "minutes"),
            ("apology_within", apology_hours, "hours"),
        ):
            if value <= 0:
                raise ValidationFailed(
                    f"{name} must be a positive number of {unit}, not {value}", field=name
                )
        return cls(
            dt.timedelta(minutes=first_notice_minutes),
            dt.timedelta(minutes=update_minutes),
            dt.timedelta(hours=apology_hours),
            auto_holding_update,
        )


#: Beyond these a policy is a typo (minutes taken for seconds), not a promise.
LONGEST = {
    "first_notice_within": dt.timedelta(days=1),
    "update_every": dt.timedelta(days=1),
    "apology_within": dt.timedelta(days=30),
}


@dataclass(frozen=True)
class Due:
    """One notice owed to customers: what, by when, and whether it is late."""

    notice: Notice
    due_at: dt.datetime
    overdue: bool


@dataclass(frozen=True)
class CadenceRecord:
    """How the incident was communicated (for the after-action report)."""

    time_to_first_notice: dt.timedelta | None
    longest_update_gap: dt.timedelta | None
    time_to_apology: dt.timedelta | None


Sent = Sequence[tuple[Notice, dt.datetime]]


def _sorted(sent: Sent) -> list[tuple[Notice, dt.datetime]]:
    return sorted(((Notice(n), at) for n, at in sent), key=lambda item: item[1])


def what_is_due(
    *,
    opened_at: dt.datetime,
    resolved_at: dt.datetime | None,
    sent: Sent,
    now: dt.datetime,
    policy: CadencePolicy = CadencePolicy(),
) -> list[Due]:
    """The notices owed now or next, each with its deadline."""
    notices = _sorted(sent)
    kinds = {n for n, _ in notices}
    due: list[Due] = []
    if Notice.first_notice not in kinds:
        at = opened_at + policy.first_notice_within
        due.append(Due(Notice.first_notice, at, now > at))
    elif resolved_at is None:
        last = max(at for n, at in notices if n in (Notice.first_notice, Notice.update))
        at = last + policy.update_every
        due.append(Due(Notice.update, at, now > at))
    if resolved_at is not None and Notice.apology not in kinds:
        at = resolved_at + policy.apology_within
        due.append(Due(Notice.apology, at, now > at))
    return due


def record(
    *,
    opened_at: dt.datetime,
    resolved_at: dt.datetime | None,
    sent: Sent,
    now: dt.datetime,
) -> CadenceRecord:
    """Time to first notice, longest silence while open, time to apology."""
    notices = _sorted(sent)
    first = next((at for n, at in notices if n is Notice.first_notice), None)
    apology = next((at for n, at in notices if n is Notice.apology), None)
    gap = None
    if first is not None:
        end = resolved_at or now
        times = [at for n, at in notices if n in (Notice.first_notice, Notice.update) and at <= end]
        times.append(end)
        gap = max((b - a for a, b in itertools.pairwise(times)), default=None)
    return CadenceRecord(
        time_to_first_notice=first - opened_at if first else None,
        longest_update_gap=gap,
        time_to_apology=apology - resolved_at if apology and resolved_at else None,
    )


def sent_from_timeline(incident: Incident) -> list[tuple[Notice, dt.datetime]]:
    """Until the delivery ledger says what went out: the customer-facing timeline
    (the first entry is the first notice, later ones updates, resolved the resolution)."""
    sent: list[tuple[Notice, dt.datetime]] = []
    for update in incident.updates:
        if not update.customer_facing:
            continue
        if not sent:
            sent.append((Notice.first_notice, update.at))
        elif update.status is IncidentStatus.resolved:
            sent.append((Notice.resolution, update.at))
        else:
            sent.append((Notice.update, update.at))
    return sent


def due_now(
    *,
    incidents: Sequence[Incident],
    now: dt.datetime,
    policy: CadencePolicy = CadencePolicy(),
) -> list[tuple[Incident, Due]]:
    """What each incident owes its customers, from its timeline, soonest first."""
    owed = [
        (incident, item)
        for incident in incidents
        for item in what_is_due(
            opened_at=incident.started_at,
            resolved_at=incident.resolved_at,
            sent=sent_from_timeline(incident),
            now=now,
            policy=policy,
        )
    ]
    return sorted(owed, key=lambda pair: pair[1].due_at)
