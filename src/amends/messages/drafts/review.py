"""Reading a draft before it is sent: the auditor's findings and a preview.

The console, the API and the CLI show the same two things, so they are here
once: the findings per language, read as one real affected customer of that
language receives the text (the same way ``flows.send_draft`` audits it), and
exactly what one chosen customer receives on one channel in one language —
with the SMS as the channel cuts it, its segments and encoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends import impact as impact_service
from amends.catalog.models import Customer
from amends.errors import NotFound, ValidationFailed
from amends.incidents import service as incident_service
from amends.messages import segments
from amends.messages import service as message_service
from amends.messages.audit import Report
from amends.messages.drafts import rendering
from amends.messages.drafts import service as drafts_service
from amends.messages.drafts.models import LANGUAGES, MessageDraft
from amends.preferences import service as preferences
from amends.preferences.service import RecipientChannel, token

CHANNELS = ("email", "sms", "voice")


def language_of(locale: str) -> str:
    """The draft language a customer's locale reads (Spanish, else English)."""
    return "es" if locale.lower().startswith("es") else "en"


def samples(*, session: Session, incident_id: int) -> dict[str, tuple[str, list[str]]]:
    """One affected customer per language (name, sites): whom the auditor reads as."""
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    found: dict[str, tuple[str, list[str]]] = {}
    for customer_id, name, locale in impact_service.some_affected_customers(
        session=session, incident=incident
    ):
        if language_of(locale) not in found:
            sites = message_service.affected_domains(
                session=session, incident_id=incident_id, customer_id=customer_id
            )
            found[language_of(locale)] = (name, sites)
    return found


def findings(
    *,
    session: Session,
    incident_id: int,
    texts: Mapping[str, Mapping[str, str]],
    company: str,
    public_url: str,
) -> dict[str, Report]:
    """The auditor's report per language on these texts (a bad template raises
    :class:`ValidationFailed` naming the field)."""
    facts = drafts_service.incident_facts(
        session=session, incident_id=incident_id, company=company, public_url=public_url
    )
    gate = drafts_service.audit_gate(facts)
    people = samples(session=session, incident_id=incident_id)
    return {
        lang: drafts_service.audit_language(
            texts,
            lang,
            gate,
            name=people.get(lang, ("", []))[0],
            sites=people.get(lang, ("", []))[1],
        )
        for lang in LANGUAGES
    }


@dataclass(frozen=True)
class SmsForm:
    """The SMS as the channel sends it: cut to the segment limit."""

    text: str
    cut: bool
    segments: int
    encoding: str
    limit: int


@dataclass(frozen=True)
class Preview:
    """What one customer receives from a draft on one channel in one language."""

    customer_id: int
    external_id: str
    name: str
    channel: str
    message: rendering.Personal
    sms: SmsForm


def _chosen(
    session: Session, incident_id: int, customer: int | str | None
) -> tuple[int, str, str, str]:
    """(id, external id, name, locale) of the customer to preview as: the one
    named (by id, or by external id when a string), else the first affected."""
    query = select(Customer.id, Customer.external_id, Customer.name, Customer.locale)
    if customer is None:
        incident = incident_service.get_incident(session=session, incident_id=incident_id)
        people = impact_service.some_affected_customers(session=session, incident=incident, limit=1)
        if not people:
            raise NotFound(
                f"nobody is affected by incident {incident_id}: name a customer", field="customer"
            )
        query = query.where(Customer.id == people[0][0])
    elif isinstance(customer, int):
        query = query.where(Customer.id == customer)
    else:
        query = query.where(Customer.external_id == customer)
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"no customer {customer}", field="customer")
    return row[0], row[1], row[2], row[3]


def preview(
    *,
    session: Session,
    draft: MessageDraft,
    public_url: str,
    sms_max_segments: int,
    customer: int | str | None = None,
    channel: str = "email",
    lang: str | None = None,
) -> Preview:
    """Exactly what a customer receives: the current version rendered with their
    name and affected sites, the unsubscribe link the dispatcher would sign, and
    the SMS cut as the channel cuts it. ``lang`` defaults to the customer's."""
    if channel not in CHANNELS:
        raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    if lang is not None and lang not in LANGUAGES:
        raise ValidationFailed(f"lang must be one of {', '.join(LANGUAGES)}", field="lang")
    customer_id, external_id, name, locale = _chosen(session, draft.incident_id, customer)
    sites = message_service.affected_domains(
        session=session, incident_id=draft.incident_id, customer_id=customer_id
    )
    key = preferences.signing_key(session=session)  # the dispatcher's, so the same link
    who = RecipientChannel("customer", customer_id, "email")
    unsubscribe = f"{public_url.rstrip('/')}/u/{token(key, who)}"
    message = rendering.personal(
        draft.current.texts,
        lang or language_of(locale),
        name=name,
        sites=sites,
        unsubscribe=unsubscribe,
    )
    cut = segments.fit_sms(message.sms, max_segments=sms_max_segments)
    sms = SmsForm(
        text=cut,
        cut=cut != message.sms,
        segments=segments.count_segments(cut),
        encoding=str(segments.encoding_of(cut)),
        limit=sms_max_segments,
    )
    return Preview(customer_id, external_id, name, channel, message, sms)
