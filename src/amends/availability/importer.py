"""``amends import outages FILE``: downtime windows from monitoring.

The same discipline as the catalog importer (it reads files through the same
:class:`~amends.catalog.sources.Source`): every problem is named by file, line
and field; the import is atomic unless the operator asks to skip invalid rows;
re-importing a file changes nothing. Outage files are small (one row per
outage, not per customer), so rows are checked and inserted in Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from amends.availability.models import OutageImpact, OutageWindow
from amends.catalog.models import Component
from amends.catalog.sources import Format, Source
from amends.db import insert_ignoring
from amends.errors import ImportProblem, ImportRejected

FIELDS = ("component", "starts_at", "ends_at", "impact", "source")
REQUIRED = ("component", "starts_at", "ends_at")
MAX_PROBLEMS = 100


@dataclass
class OutageImport:
    rows: int = 0
    added: int = 0
    unchanged: int = 0
    skipped: int = 0
    problems: list[ImportProblem] = field(default_factory=list)


def _time(value: Any, name: str, problems: list[str]) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        problems.append(f"{name}: not an ISO 8601 time: {value!r}")
        return None
    if parsed.tzinfo is None:
        problems.append(f"{name}: {value!r} has no time zone offset")
        return None
    return parsed.astimezone(dt.UTC)


def _check(values: dict[str, Any], components: dict[str, int]) -> tuple[dict[str, Any], list[str]]:
    """One row's values, or the reasons (``field: message``) it cannot be imported."""
    problems: list[str] = []
    unknown = sorted(set(values) - set(FIELDS))
    problems += [f"{name}: unknown field" for name in unknown]
    problems += [f"{name}: required" for name in REQUIRED if not str(values.get(name, "")).strip()]
    if problems:
        return {}, problems
    key = str(values["component"]).strip()
    if key not in components:
        problems.append(f"component: no component {key!r}")
    start = _time(values["starts_at"], "starts_at", problems)
    end = _time(values["ends_at"], "ends_at", problems)
    if start and end and end <= start:
        problems.append("ends_at: must be after starts_at")
    impact = str(values.get("impact") or OutageImpact.major_outage.value).strip()
    if impact not in OutageImpact.__members__:
        problems.append(f"impact: {impact!r} is not one of {', '.join(OutageImpact.__members__)}")
    return {
        "component_id": components.get(key),
        "starts_at": start,
        "ends_at": end,
        "impact": impact,
        "source": str(values.get("source") or "")[:200],
    }, problems


def import_outages(
    *, session: Session, path: Path, fmt: Format | None = None, skip_invalid: bool = False
) -> OutageImport:
    """Add the windows of ``path``; refuse the whole file on any problem unless ``skip_invalid``."""
    source = Source(path, fmt, fields=FIELDS, required=REQUIRED)
    components = dict(session.execute(select(Component.key, Component.id)).all())
    result = OutageImport()
    good: list[dict[str, Any]] = []
    for row in source:
        result.rows += 1
        if row.values is None:
            result.problems.append(ImportProblem(source.name, row.line, None, row.error or "?"))
            continue
        values, problems = _check(row.values, components)
        for problem in problems:
            name, _, message = problem.partition(": ")
            result.problems.append(ImportProblem(source.name, row.line, name, message))
        if not problems:
            good.append(values)
    if result.problems and not skip_invalid:
        raise ImportRejected(result.problems[:MAX_PROBLEMS], hint="nothing was imported")
    result.skipped = result.rows - len(good)
    if good:
        stmt = insert_ignoring(
            session, OutageWindow.__table__, ["component_id", "starts_at", "ends_at", "impact"]
        )
        before = _count(session)
        session.execute(stmt, good)
        result.added = _count(session) - before  # rowcount of executemany is driver-dependent
    result.unchanged = len(good) - result.added
    session.flush()
    return result


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutageWindow)) or 0
