"""The audit log: who did what, when, to what — every console action, every API
write and ``amends user``.

Written in the same unit of work as the action itself, so an action that
rolled back leaves no entry and an entry always means it happened (sign-in
failures are the exception the caller commits on purpose).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from amends.db import utcnow
from amends.users.models import AuditEntry

CSV_FIELDS = ("at", "actor", "action", "target", "detail", "ip")
_LOGGED = "amends.audit.logged"  # session.info: this unit of work logged an entry


def record(
    *,
    session: Session,
    actor: str,
    action: str,
    target: str = "",
    detail: str = "",
    ip: str = "",
    now: dt.datetime | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=now or utcnow(),
        actor=actor[:320],
        action=action[:64],
        target=target[:200],
        detail=detail,
        ip=ip[:64],
    )
    session.add(entry)
    session.flush()
    session.info[_LOGGED] = True
    return entry


def nothing_to_log(session: Session) -> None:
    """A service's word that this unit of work changed nothing worth an entry
    (an unchanged save): a front end then logs no generic entry either."""
    session.info[_LOGGED] = True


def logged(session: Session) -> bool:
    """Whether a service has accounted for this unit of work already (a front
    end's generic entry would only repeat its more precise one)."""
    return bool(session.info.get(_LOGGED))


@dataclass(frozen=True)
class Filter:
    """What the audit screen narrows by; empty fields narrow nothing."""

    actor: str = ""
    action: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def query(self) -> Select[tuple[AuditEntry]]:
        query = select(AuditEntry)
        if self.actor:
            query = query.where(AuditEntry.actor == self.actor.strip().lower())
        if self.action:
            query = query.where(AuditEntry.action == self.action.strip())
        if self.since is not None:
            query = query.where(AuditEntry.at >= self.since)
        if self.until is not None:
            query = query.where(AuditEntry.at < self.until)
        return query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def search(*, session: Session, where: Filter, limit: int = 200) -> Sequence[AuditEntry]:
    return session.scalars(where.query().limit(limit)).all()


def actions(*, session: Session) -> list[str]:
    """The distinct actions logged so far (for the filter's choices)."""
    return sorted(session.scalars(select(AuditEntry.action).distinct()).all())


def actors(*, session: Session) -> list[str]:
    return sorted(session.scalars(select(AuditEntry.actor).distinct()).all())


def write_csv(*, session: Session, where: Filter, out: TextIO) -> int:
    """Every matching entry, newest first, streamed in batches; returns the row count."""
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    count = 0
    for entry in _stream(session, where):
        writer.writerow(
            [entry.at.isoformat(), *(_inert(getattr(entry, f)) for f in CSV_FIELDS[1:])]
        )
        count += 1
    return count


def _inert(value: str) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula: quote it (OWASP)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _stream(session: Session, where: Filter) -> Iterator[AuditEntry]:
    yield from session.scalars(where.query().execution_options(yield_per=1000))
