"""Record a customer's rating of how we handled an incident, and count them.

Recording is one ``INSERT … ON CONFLICT (incident_id, customer_id) DO
UPDATE``: the second answer replaces the first, and two POSTs racing each
other leave one row. Counting is one ``GROUP BY`` per question, whatever
the number of ratings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from amends.catalog.models import Customer
from amends.db import is_postgres, utcnow
from amends.errors import NotFound, ValidationFailed
from amends.incidents.models import Incident
from amends.ratings.links import SCALE, RatingLink
from amends.ratings.models import Rating

#: Long enough for a paragraph of what went wrong, short enough to read them all.
COMMENT_MAX = 2000
LANGUAGES = ("en", "es")


def language(locale: str) -> str:
    """The customer's language as the rating page speaks it (es or en)."""
    base = locale.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else "en"


@dataclass(frozen=True, slots=True)
class Ask:
    """What the rating page shows: the incident, and the customer's own answer so
    far. Nothing else about the customer (their address never reaches the page)."""

    link: RatingLink
    lang: str
    title: str
    started_at: dt.datetime
    score: int | None
    comment: str
    timezone: str = "UTC"  # the customer's: the page dates the incident as the e-mail did


def describe(*, session: Session, link: RatingLink) -> Ask:
    """The page for a genuine link; :class:`NotFound` when its incident or customer is gone."""
    found = session.execute(
        select(Incident.title, Incident.started_at, Customer.locale, Customer.timezone)
        .select_from(Incident)
        .join(Customer, Customer.id == link.customer_id)
        .where(Incident.id == link.incident_id)
    ).first()
    if found is None:
        raise NotFound("this rating link is not valid")
    title, started_at, locale, timezone = found
    current = session.execute(
        select(Rating.score, Rating.comment).where(
            Rating.incident_id == link.incident_id, Rating.customer_id == link.customer_id
        )
    ).first()
    score, comment = current if current is not None else (None, None)
    return Ask(link, language(locale), title, started_at, score, comment or "", timezone)


def check_score(value: object) -> int:
    try:
        score = int(str(value))
    except ValueError:
        raise ValidationFailed("choose a score from 1 to 5", field="score") from None
    if score not in SCALE:
        raise ValidationFailed("choose a score from 1 to 5", field="score")
    return score


def check_comment(value: str | None) -> str | None:
    """Trimmed; empty is no comment; longer than :data:`COMMENT_MAX` is refused
    (never cut: the customer decides what to leave out)."""
    text = (value or "").replace("\r\n", "\n").strip()
    if len(text) > COMMENT_MAX:
        raise ValidationFailed(
            f"the comment is {len(text)} characters long; at most {COMMENT_MAX}", field="comment"
        )
    return text or None


def record(
    *,
    session: Session,
    link: RatingLink,
    score: object,
    comment: str | None = None,
    now: dt.datetime | None = None,
) -> Ask:
    """Save the customer's answer, replacing any earlier one for this incident."""
    ask = describe(session=session, link=link)
    values = {
        "incident_id": link.incident_id,
        "customer_id": link.customer_id,
        "notice_kind": link.notice_kind,
        "score": check_score(score),
        "comment": check_comment(comment),
        "locale": ask.lang,
        "at": now or utcnow(),
    }
    statement = _insert(session).values(values)
    replaced = ("notice_kind", "score", "comment", "locale", "at")
    statement = statement.on_conflict_do_update(
        index_elements=["incident_id", "customer_id"],
        set_={name: statement.excluded[name] for name in replaced},
    )
    session.execute(statement)
    session.flush()
    return describe(session=session, link=link)


def _insert(session: Session) -> Any:
    if is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(Rating.__table__)


@dataclass
class RatingSummary:
    """Ratings of one incident: count, average and distribution, overall and per language."""

    count: int
    average: float | None
    distribution: dict[int, int]
    by_language: dict[str, dict[str, Any]]
    comments: int


def summary(*, session: Session, incident_id: int) -> RatingSummary:
    """One GROUP BY (language, score) over the incident's ratings."""
    rows = session.execute(
        select(
            Rating.locale,
            Rating.score,
            func.count(),
            func.count(Rating.comment),
        )
        .where(Rating.incident_id == incident_id)
        .group_by(Rating.locale, Rating.score)
    ).all()
    overall = dict.fromkeys(SCALE, 0)
    langs: dict[str, dict[int, int]] = {}
    comments = 0
    for lang, score, count, commented in rows:
        overall[score] += count
        langs.setdefault(lang, dict.fromkeys(SCALE, 0))[score] += count
        comments += commented
    by_language = {
        lang: {"count": sum(d.values()), "average": _average(d), "distribution": d}
        for lang, d in sorted(langs.items())
    }
    return RatingSummary(sum(overall.values()), _average(overall), overall, by_language, comments)


def _average(distribution: dict[int, int]) -> float | None:
    count = sum(distribution.values())
    if not count:
        return None
    return round(sum(s * n for s, n in distribution.items()) / count, 2)


COMMENT_FIELDS = ("at", "language", "score", "notice_kind", "customer_external_id", "comment")


def comments(
    *, session: Session, incident_id: int, lang: str | None = None, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """The incident's comments, newest first (streamed: a CSV of them all stays
    flat in memory). The customer's external id lets the team follow up."""
    query = (
        select(
            Rating.at,
            Rating.locale,
            Rating.score,
            Rating.notice_kind,
            Customer.external_id,
            Rating.comment,
        )
        .join(Customer, Customer.id == Rating.customer_id)
        .where(Rating.incident_id == incident_id, Rating.comment.is_not(None))
        .order_by(Rating.at.desc(), Rating.id.desc())
    )
    if lang is not None:
        query = query.where(Rating.locale == lang)
    if limit is not None:
        query = query.limit(limit)
    for row in session.execute(query.execution_options(yield_per=1000)):
        yield dict(zip(COMMENT_FIELDS, row, strict=True))
