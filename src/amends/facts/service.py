"""Recording an incident's facts and its data-exposure assessment.

The assessment is the gate of the reassurance step: ``none`` can only be
recorded with the name of the person who signed it off, and any later change
away from ``none`` drops the sign-off, so a stale "no data was compromised"
can never be composed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends.db import utcnow
from amends.errors import ValidationFailed
from amends.facts.kinds import CauseOwner, DataKind, Exposure
from amends.facts.models import AuditOverride, IncidentFacts
from amends.incidents import service as incident_service


def get_facts(*, session: Session, incident_id: int) -> IncidentFacts:
    """The incident's facts; an unsaved blank record (exposure under investigation)
    when none were recorded yet. Raises NotFound for an unknown incident."""
    facts = session.get(IncidentFacts, incident_id)
    if facts is not None:
        return facts
    incident_service.get_incident(session=session, incident_id=incident_id)
    return IncidentFacts(
        incident_id=incident_id,
        what_failed="",
        customer_effect="",
        root_cause="",
        cause_owner=None,
        actions_taken=[],
        actions_planned=[],
        exposure=Exposure.under_investigation,
        exposed_data=[],
        contact_point="",
    )


def _stored(session: Session, incident_id: int) -> IncidentFacts:
    facts = get_facts(session=session, incident_id=incident_id)
    if facts not in session:
        session.add(facts)
    return facts


def _lines(values: Sequence[str], field: str) -> list[str]:
    cleaned = [v.strip() for v in values]
    if any(not v for v in cleaned):
        raise ValidationFailed("an action must not be empty", field=field)
    return cleaned


def record_facts(
    *,
    session: Session,
    incident_id: int,
    what_failed: str | None = None,
    customer_effect: str | None = None,
    root_cause: str | None = None,
    cause_owner: CauseOwner | None = None,
    actions_taken: Sequence[str] | None = None,
    actions_planned: Sequence[str] | None = None,
    contact_point: str | None = None,
    signatory: str | None = None,
    lang: str | None = None,
    now: dt.datetime | None = None,
) -> IncidentFacts:
    """Set the given facts (``None`` leaves a field as it is).

    With ``lang``, the texts given are that language's translation of the
    facts; the cause owner is a fact, not a text, and is the same in every
    language."""
    facts = _stored(session, incident_id)
    if lang is not None:
        _translate(
            facts,
            lang,
            what_failed=what_failed,
            customer_effect=customer_effect,
            root_cause=root_cause,
            contact_point=contact_point,
            signatory=signatory,
            actions_taken=actions_taken,
            actions_planned=actions_planned,
        )
        if cause_owner is not None:
            facts.cause_owner = CauseOwner(cause_owner)
        facts.updated_at = now or utcnow()
        session.flush()
        return facts
    for name, value in (
        ("what_failed", what_failed),
        ("customer_effect", customer_effect),
        ("root_cause", root_cause),
        ("contact_point", contact_point),
        ("signatory", signatory),
    ):
        if value is not None:
            setattr(facts, name, value.strip())
    if cause_owner is not None:
        facts.cause_owner = CauseOwner(cause_owner)
    if actions_taken is not None:
        facts.actions_taken = _lines(actions_taken, "actions_taken")
    if actions_planned is not None:
        facts.actions_planned = _lines(actions_planned, "actions_planned")
    facts.updated_at = now or utcnow()
    session.flush()
    return facts


def _translate(facts: IncidentFacts, lang: str, **texts: str | Sequence[str] | None) -> None:
    lang = lang.strip().lower()
    if not lang.isalpha() or not 2 <= len(lang) <= 3:
        raise ValidationFailed(f"{lang!r} is not a language code", field="lang")
    mine = dict((facts.translations or {}).get(lang, {}))
    for name, value in texts.items():
        if value is None:
            continue
        if isinstance(value, str):
            mine[name] = value.strip()
        else:
            mine[name] = _lines(value, name)
    facts.translations = {**(facts.translations or {}), lang: mine}


def assess_exposure(
    *,
    session: Session,
    incident_id: int,
    exposure: Exposure,
    data_kinds: Sequence[DataKind] = (),
    signed_off_by: str | None = None,
    now: dt.datetime | None = None,
) -> IncidentFacts:
    """Record the data-exposure assessment.

    ``none`` needs ``signed_off_by`` (a named person; the time is now);
    ``confirmed`` needs at least one data kind; ``under_investigation`` takes
    neither. Any assessment replaces the previous one and its sign-off.
    """
    exposure = Exposure(exposure)
    kinds = sorted({DataKind(k) for k in data_kinds})
    who = (signed_off_by or "").strip()
    if exposure is Exposure.none and not who:
        raise ValidationFailed(
            "an assessment of 'none' needs the name of the person who signs it off",
            field="signed_off_by",
        )
    if exposure is not Exposure.none and who:
        raise ValidationFailed("only an assessment of 'none' is signed off", field="signed_off_by")
    if exposure is Exposure.confirmed and not kinds:
        raise ValidationFailed(
            "a confirmed exposure must name the kinds of data exposed "
            f"({', '.join(k.value for k in DataKind)})",
            field="data_kinds",
        )
    if exposure is not Exposure.confirmed and kinds:
        raise ValidationFailed(
            "data kinds are given only for a confirmed exposure", field="data_kinds"
        )
    now = now or utcnow()
    facts = _stored(session, incident_id)
    facts.exposure = exposure
    facts.exposed_data = [k.value for k in kinds]
    facts.exposure_signed_off_by = who or None
    facts.exposure_signed_off_at = now if who else None
    facts.updated_at = now
    session.flush()
    return facts


def record_override(
    *,
    session: Session,
    incident_id: int,
    kind: str,
    locale: str,
    rules: Sequence[str],
    who: str,
    why: str,
    now: dt.datetime | None = None,
) -> AuditOverride:
    """Record that ``who`` sends a message despite blocking ``rules``, and why.

    Both are required: an override nobody can be asked about is not an override.
    """
    if not who.strip():
        raise ValidationFailed("an override needs the name of who decided it", field="who")
    if len(why.strip()) < 10:
        raise ValidationFailed("an override needs a reason (10 characters or more)", field="why")
    if not rules:
        raise ValidationFailed("nothing blocks: no override is needed", field="rules")
    if session.get(IncidentFacts, incident_id) is None:
        incident_service.get_incident(session=session, incident_id=incident_id)
    override = AuditOverride(
        incident_id=incident_id,
        kind=kind,
        locale=locale,
        rules=sorted(set(rules)),
        who=who.strip(),
        why=why.strip(),
        at=now or utcnow(),
    )
    session.add(override)
    session.flush()
    return override


def overrides(*, session: Session, incident_id: int) -> list[AuditOverride]:
    """Every override recorded for an incident, oldest first."""
    rows = session.scalars(
        select(AuditOverride)
        .where(AuditOverride.incident_id == incident_id)
        .order_by(AuditOverride.at, AuditOverride.id)
    )
    return list(rows)
