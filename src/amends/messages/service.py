"""From the database to the composer: an incident's facts, a customer, their sites.

The composer is pure; this module reads what it needs, so the delivery flow,
the demo and ``amends compose`` build the same message the same way.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends import impact
from amends.catalog import service as catalog_service
from amends.catalog.models import Customer, Site
from amends.facts import service as facts_service
from amends.facts.kinds import DataKind
from amends.facts.models import IncidentFacts
from amends.incidents import service as incident_service
from amends.messages.audit import Report
from amends.messages.composer import audit_composed, compose
from amends.messages.inputs import (
    Composed,
    CreditOffer,
    NoticeFacts,
    Recipient,
    Text,
    TrackRecord,
)
from amends.ratings import links as rating_links


def notice_facts(
    *,
    session: Session,
    incident_id: int,
    company: str,
    status_url: str = "",
    details_url: str = "",
    postmortem_url: str = "",
    signatory: Text = "",
    next_update_at: dt.datetime | None = None,
) -> NoticeFacts:
    """The incident and its recorded facts, as the composer takes them."""
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    facts = facts_service.get_facts(session=session, incident_id=incident_id)
    customer_facing = [u for u in incident.updates if u.customer_facing]
    return NoticeFacts(
        company=company,
        title=incident.title,
        what_failed=_in_languages(
            facts, "what_failed", ", ".join(c.component.name for c in incident.components)
        ),
        customer_effect=_in_languages(facts, "customer_effect", incident.description),
        started_at=incident.started_at,
        resolved_at=incident.resolved_at,
        root_cause=_in_languages(facts, "root_cause"),
        cause_owner=facts.cause_owner,
        actions_taken=_list_in_languages(facts, "actions_taken"),
        actions_planned=_list_in_languages(facts, "actions_planned"),
        exposure=facts.exposure,
        exposure_signed_off_by=facts.exposure_signed_off_by,
        exposed_data=[DataKind(k) for k in facts.exposed_data],
        contact_point=_in_languages(facts, "contact_point"),
        latest_update=customer_facing[-1].message if customer_facing else "",
        next_update_at=next_update_at,
        status_url=status_url,
        details_url=details_url,
        postmortem_url=postmortem_url,
        signatory=_in_languages(facts, "signatory") or signatory,
        ends_at=incident.scheduled_until,
    )


def _in_languages(facts: IncidentFacts, name: str, fallback: str = "") -> Text:
    """The text as first written, with its translations: the composer picks the
    customer's language (``pick``) and falls back to the first written."""
    base = getattr(facts, name) or fallback
    translated = {
        lang: texts[name] for lang, texts in (facts.translations or {}).items() if texts.get(name)
    }
    return {"*": base, **translated} if translated else base


def _list_in_languages(facts: IncidentFacts, name: str) -> list[Text]:
    """Item by item: translation lists line up with the list as first written."""
    base = list(getattr(facts, name))
    out: list[Text] = []
    for i, item in enumerate(base):
        translated = {
            lang: texts[name][i]
            for lang, texts in (facts.translations or {}).items()
            if len(texts.get(name, [])) > i
        }
        out.append({"*": item, **translated} if translated else item)
    return out


def affected_domains(*, session: Session, incident_id: int, customer_id: int) -> list[str]:
    """One customer's affected sites (domains, sorted), from the impact query."""
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    windows = impact.failure_windows(session=session, incident=incident)
    if not windows:
        return []
    hit = impact.affected_sites(windows).where(Site.customer_id == customer_id).subquery()
    rows = session.scalars(
        select(Site.domain).join(hit, hit.c.site_id == Site.id).order_by(Site.domain)
    )
    return list(rows)


def recipient(customer: Customer) -> Recipient:
    return Recipient(name=customer.name, timezone=customer.timezone)


def compose_for_customer(
    *,
    session: Session,
    kind: str,
    incident_id: int,
    customer_external_id: str,
    channel: str,
    facts: NoticeFacts,
    locale: str | None = None,
    credit: CreditOffer | None = None,
    track_record: TrackRecord | None = None,
    rating_key: bytes | None = None,
    public_url: str = "",
) -> tuple[Composed, Report]:
    """One customer's message for an incident, and the auditor's report on it.

    With the installation's ``rating_key`` (and ``public_url``), a resolution or
    apology e-mail carries the customer's own rating links, as it will be sent."""
    customer = catalog_service.get_customer(session=session, external_id=customer_external_id)
    sites = affected_domains(session=session, incident_id=incident_id, customer_id=customer.id)
    rating_url = None
    if rating_key is not None and kind in ("resolution", "apology"):
        link = rating_links.RatingLink(incident_id, customer.id, str(kind))
        rating_url = rating_links.url(public_url, rating_key, link)
    message = compose(
        kind,
        facts,
        recipient(customer),
        locale or customer.locale,
        channel,
        credit=credit,
        track_record=track_record,
        sites=sites,
        rating_url=rating_url,
    )
    return message, audit_composed(message, facts, track_record)
