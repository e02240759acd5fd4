"""Checking one block of import rows: the half of an import that runs in
worker processes.

A block (its first line number and raw lines, from :meth:`Source.blocks`) is
parsed, each row is judged — by :mod:`fastcheck` when it is plainly valid, by
the record models otherwise, which also word every refusal — and the valid
rows come back as staging-table rows (COPY text on PostgreSQL, so the process
holding the connection only forwards bytes). Nothing here touches a database,
so any process can do it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from amends.catalog import fastcheck
from amends.catalog.models import CHANNELS
from amends.catalog.records import CustomerRecord, SiteRecord
from amends.catalog.sources import Block, Layout, SourceRow, parse_block
from amends.db.bulk import copy_text, sqlite_time_text
from amends.errors import ImportProblem

Kind = Literal["customers", "sites"]


@dataclass(frozen=True, slots=True)
class Job:
    """Everything :func:`check_block` needs besides the block; small and picklable."""

    kind: Kind
    file: str
    layout: Layout
    postgres: bool
    components: Mapping[str, int]  # key -> id, for sites


@dataclass(slots=True)
class Checked:
    """A checked block: staging rows (COPY text on PostgreSQL) and problems.

    Customer rows follow ``CUSTOMER_STAGE``; site rows ``SITE_STAGE``, and
    ``links`` are ``(line, component_id)``.
    """

    read: int = 0
    rows: list[tuple[Any, ...]] | bytes = field(default_factory=list)
    links: list[tuple[int, int]] | bytes = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)


CUSTOMER_STAGE = (
    "line", "external_id", "name", "email", "phone", "locale", "timezone", "tier",
    *(f"notify_{c}" for c in CHANNELS),
    *(f"opt_out_{c}" for c in CHANNELS),
)  # fmt: skip
SITE_STAGE = (
    "line", "external_id", "customer", "domain", "plan", "monthly_price_minor", "currency",
    "state", "service_started_at", "service_ended_at",
)  # fmt: skip


def check_block(job: Job, block: Block) -> Checked:
    """Parse and validate one block; runs in a worker process or inline.

    Plainly valid rows take :mod:`fastcheck`'s cheap path; the rest go to the
    record models, which decide and word every refusal.
    """
    out = Checked()
    rows: list[tuple[Any, ...]] = []
    links: list[tuple[int, int]] = []
    for row in parse_block(job.layout, *block):
        out.read += 1
        if row.values is None:
            out.problems.append(ImportProblem(job.file, row.line, None, row.error or "unreadable"))
            continue
        if job.kind == "customers":
            customer = fastcheck.customer(row.values) or _judge_customer(job, row, out)
            if customer is not None:
                rows.append(_customer_row(job, row.line, customer))
            continue
        site = fastcheck.site(row.values, job.components) or _judge_site(job, row, out)
        if site is not None:
            rows.append(_site_row(job, row.line, site))
            links.extend((row.line, job.components[key]) for key in site[7])
    _without_nul(job, block, rows, out.problems)
    if job.postgres:
        out.rows, out.links = copy_text(rows), copy_text(links)
    else:
        out.rows, out.links = rows, links
    return out


def _judge_customer(job: Job, row: SourceRow, out: Checked) -> fastcheck.CustomerValues | None:
    assert row.values is not None
    try:
        r = CustomerRecord.model_validate(row.values)
    except ValidationError as exc:
        out.problems += problems_of(job.file, row.line, exc)
        return None
    return (r.external_id, r.name, r.email, r.phone, r.locale, r.timezone, r.tier,
            frozenset(r.channels), frozenset(r.opt_out))  # fmt: skip


def _judge_site(job: Job, row: SourceRow, out: Checked) -> fastcheck.SiteValues | None:
    assert row.values is not None
    try:
        r = SiteRecord.model_validate(row.values)
    except ValidationError as exc:
        out.problems += problems_of(job.file, row.line, exc)
        return None
    unknown = [key for key in r.components if key not in job.components]
    if unknown:
        message = f"no component {unknown[0]!r}"
        out.problems.append(ImportProblem(job.file, row.line, "components", message))
        return None
    return (r.external_id, r.customer, r.domain, r.plan, r.price_minor, r.currency,
            r.state.value, tuple(r.components), r.started_at, r.ended_at)  # fmt: skip


def problems_of(file: str, line: int, exc: ValidationError) -> list[ImportProblem]:
    """Pydantic's errors as problems; a row-level rule (e.g. "channel 'sms' but
    no phone") has no single field and its message names the fields."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = error["loc"]
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(ImportProblem(file, line, str(loc[0]) if loc else None, message))
    return problems


def _customer_row(job: Job, line: int, c: fastcheck.CustomerValues) -> tuple[Any, ...]:
    flag = bool if job.postgres else int
    external_id, name, email, phone, locale, timezone, tier, channels, opt_out = c
    return (
        line, external_id, name, email, phone, locale, timezone, tier,
        *(flag(name in channels) for name in CHANNELS),
        *(flag(name in opt_out) for name in CHANNELS),
    )  # fmt: skip


def _site_row(job: Job, line: int, s: fastcheck.SiteValues) -> tuple[Any, ...]:
    moment = (lambda v: v) if job.postgres else sqlite_time_text
    external_id, customer, domain, plan, price, currency, state, _, started, ended = s
    return (
        line, external_id, customer, domain, plan, price, currency, state,
        moment(started), moment(ended),
    )  # fmt: skip


def _without_nul(job: Job, block: Block, rows: list[Any], problems: list[ImportProblem]) -> None:
    """Reject rows holding a NUL character, which PostgreSQL text cannot store
    (the same rule on SQLite, so both judge a file alike). The raw lines are
    scanned first; rows are looked at only when a line might hold one. The
    staging columns that hold text are named as the record's fields are."""
    if not any("\x00" in line or "\\u0000" in line for line in block[1]):
        return
    columns = CUSTOMER_STAGE if job.kind == "customers" else SITE_STAGE
    found: dict[int, str] = {}  # line -> the first field holding one
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            if isinstance(value, str) and "\x00" in value:
                found[row[0]] = column
                break
    if found:
        problems += [
            ImportProblem(job.file, line, name, "contains a NUL character")
            for line, name in found.items()
        ]
        problems.sort(key=lambda p: p.line or 0)
        rows[:] = [row for row in rows if row[0] not in found]
