"""The named blocks of every notice, in gettext msgids (English).

The apology is the seven steps of 2012, one block each: ``admit``,
``serious``, ``why``, ``reassure`` (or ``data``: the breach notice's steps),
``track_record`` (only when a measured figure is given) with ``learned``,
``compensate``, ``closing``. Wording is chosen to pass the auditor: no
"if", no "any inconvenience", no "but", the failure always ours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from amends.facts.kinds import CauseOwner, DataKind, Exposure
from amends.messages.i18n import Speaker
from amends.messages.inputs import CreditOffer, NoticeFacts, Text, TrackRecord, pick

Blocks = list[tuple[str, str]]


def _t(s: Speaker, text: Text) -> str:
    return pick(text, s.lang).strip()


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?…" else text + "."


def capital(text: str) -> str:
    """A sentence of its own starts with a capital, whatever the operator typed."""
    return text[:1].upper() + text[1:]


def _lower(text: str) -> str:
    """'We closed the flaw' → 'we closed the flaw' inside a list; 'DNS' stays 'DNS'."""
    first = text.split(" ", 1)[0]
    return text if first.isupper() or not first[:1].isupper() else text[:1].lower() + text[1:]


def _list(s: Speaker, items: Sequence[Text]) -> str:
    return s.items([_lower(_t(s, i).rstrip(".")) for i in items])


def greeting(s: Speaker, name: str) -> str:
    return s._("Dear %(name)s,", name=name) if name else s._("Dear customer,")


def data_kind(s: Speaker, kind: DataKind) -> str:
    names = {
        DataKind.passwords: s._("passwords"),
        DataKind.payment_cards: s._("payment card data"),
        DataKind.names_addresses: s._("names and postal addresses"),
        DataKind.email_contents: s._("the contents of e-mails"),
        DataKind.api_keys: s._("API keys and access tokens"),
        DataKind.contact_details: s._("e-mail addresses and phone numbers"),
        DataKind.national_ids: s._("national identity numbers"),
    }
    return names[kind]


def consequences(s: Speaker, kind: DataKind) -> str:
    texts = {
        DataKind.passwords: s._(
            "Someone could try to sign in to your account, or to other services where "
            "you use the same password."
        ),
        DataKind.payment_cards: s._("Someone could try to charge your card."),
        DataKind.names_addresses: s._(
            "Someone could send you letters or e-mails that pretend to come from us."
        ),
        DataKind.email_contents: s._(
            "Someone could read what your messages said, or quote them to deceive you."
        ),
        DataKind.api_keys: s._("Someone could call our services as if they were you."),
        DataKind.contact_details: s._(
            "You could receive e-mails, messages or calls that pretend to come from us."
        ),
        DataKind.national_ids: s._("Someone could try to open accounts in your name."),
    }
    return texts[kind]


def steps(s: Speaker, kind: DataKind, facts: NoticeFacts) -> list[str]:
    """What the customer must do for one kind of exposed data (domain-research §4.3)."""
    since = s.when(facts.started_at)
    texts = {
        DataKind.passwords: [
            s._("Reset your password for your account with us now."),
            s._("Change your password on every other service where you used the same one."),
            s._("Turn on two-step login."),
        ],
        DataKind.payment_cards: [
            s._(
                "Watch your card statements and report any charge you do not recognise "
                "to your bank."
            ),
            s._("Ask your bank for a new card if you want to be certain."),
        ],
        DataKind.names_addresses: [
            s._("Check the sender of any letter or e-mail that mentions this incident."),
        ],
        DataKind.email_contents: [
            s._("Check your mailbox for forwarding rules you did not set up."),
        ],
        DataKind.api_keys: [
            s._("Rotate your API keys and tokens now."),
            s._("Review your access logs from %(since)s on.", since=since),
        ],
        DataKind.contact_details: [
            s._("Do not answer calls or messages that ask for your password or card details."),
        ],
        DataKind.national_ids: [
            s._("Place a fraud alert or a credit freeze with the credit bureaus; it is free."),
        ],
    }
    return texts[kind]


def phishing(s: Speaker) -> str:
    return s._(
        "Beware of phishing that cites this incident: we will never ask you for your "
        "password or card details by e-mail, message or phone."
    )


def window(s: Speaker, facts: NoticeFacts) -> str:
    if facts.resolved_at is None:
        return s._("since %(start)s", start=s.when(facts.started_at))
    return s._(
        "from %(start)s to %(end)s",
        start=s.when(facts.started_at),
        end=s.when(facts.resolved_at),
    )


def admit(s: Speaker, facts: NoticeFacts, sites: Sequence[str]) -> str:
    effect = _sentence(_t(s, facts.customer_effect))
    if sites:
        hit = s.n_(
            "We are sorry. Our outage %(window)s hit your site %(sites)s.",
            "We are sorry. Our outage %(window)s hit your sites %(sites)s.",
            len(sites),
            window=window(s, facts),
            sites=s.sites(sites),
        )
    else:
        hit = s._("We are sorry. Our outage %(window)s hit you.", window=window(s, facts))
    saw = s._("What you saw:")
    return f"{hit} {saw} {effect}" if effect else hit


def serious(s: Speaker) -> str:
    return s._(
        "We let you down, and this was our fault. We take that, and the trust you place "
        "in us, very seriously."
    )


def why(s: Speaker, facts: NoticeFacts) -> str:
    parts = [
        s._("What happened:") + " " + _sentence(_t(s, facts.root_cause) or _t(s, facts.what_failed))
    ]
    if facts.cause_owner is CauseOwner.upstream:
        parts.append(
            s._(
                "It started at one of our providers. Choosing and watching our providers is "
                "our job, so this is ours to put right."
            )
        )
    elif facts.cause_owner is CauseOwner.attack:
        parts.append(s._("It was an attack on our systems. Protecting them is our job."))
    if facts.actions_taken:
        parts.append(s._("What we have done: %(actions)s.", actions=_list(s, facts.actions_taken)))
    if facts.actions_planned:
        parts.append(
            s._(
                "To prevent this from happening again, we will: %(actions)s.",
                actions=_list(s, facts.actions_planned),
            )
        )
    else:
        parts.append(
            s._(
                "We are reviewing every step that led here to prevent this from happening "
                "again, and we will publish what we change."
            )
        )
    return " ".join(parts)


def reassure(s: Speaker, facts: NoticeFacts) -> tuple[str, str]:
    """(block name, text): the reassurance only for a signed-off 'none'."""
    if facts.reassurance_allowed:
        return "reassure", s._(
            "No customer data was compromised: no passwords, payment card data, names or "
            "addresses were accessed. %(who)s has checked this and signed it off.",
            who=facts.exposure_signed_off_by,
        )
    if facts.exposure is Exposure.confirmed:
        kinds = s.items([data_kind(s, k) for k in facts.exposed_data])
        first = steps(s, facts.exposed_data[0], facts)[0]
        return "data", s._(
            "Some of your data was exposed: %(kinds)s. We are sending you a separate notice "
            "that says what happened and what you must do. The most urgent step: %(step)s",
            kinds=kinds,
            step=first,
        )
    return "reassure", s._(
        "We are still investigating whether any data was affected. We will tell you as soon "
        "as we know, and exactly what to do if it was."
    )


def track_record(s: Speaker, record: TrackRecord) -> str:
    return s._(
        "Since %(since)s, %(service)s has been available %(availability)s of the time. That "
        "is the level we expect of ourselves, and this time we fell short of it.",
        since=s.date(record.since.astimezone(dt.UTC).date()),
        service=_t(s, record.service),
        availability=s.percent(record.availability),
    )


def learned(s: Speaker) -> str:
    return s._("We have learned from this, and we will use it to improve our service.")


def compensate(s: Speaker, credit: CreditOffer) -> str:
    amount = s.money(credit.amount_minor, credit.currency)
    sites = s.sites(credit.sites)
    if credit.months:
        duration = s.n_("%(num)d month", "%(num)d months", credit.months)
        first = s.n_(
            "Your account receives a credit of %(amount)s, equal to %(duration)s of service, "
            "for your site %(sites)s.",
            "Your account receives a credit of %(amount)s, equal to %(duration)s of service, "
            "for your sites %(sites)s.",
            len(credit.sites),
            amount=amount,
            duration=duration,
            sites=sites,
        )
    else:
        first = s.n_(
            "Your account receives a credit of %(amount)s for your site %(sites)s.",
            "Your account receives a credit of %(amount)s for your sites %(sites)s.",
            len(credit.sites),
            amount=amount,
            sites=sites,
        )
    when = s.when(credit.available_at)
    if credit.redeem_url:
        # The URL ends the paragraph: nothing glued to it that a plain-text
        # reader (or a linkifier) could take for part of the link.
        how = s._(
            "It is yours from %(when)s, and there is nothing to buy. To redeem it, click the "
            "button below or open %(url)s",
            when=when,
            url=credit.redeem_url,
        )
    else:
        how = s._(
            "It is applied to your account automatically on %(when)s; you do not need to do "
            "anything.",
            when=when,
        )
    return f"{first} {how}"


def closing(s: Speaker, facts: NoticeFacts) -> str:
    parts = [s._("Thank you for the chance to win back your trust.")]
    url = facts.postmortem_url or facts.status_url
    if url:
        parts.append(
            s._(
                "We will publish a full report of what happened and what we changed at %(url)s.",
                url=url,
            )
        )
    else:
        parts.append(s._("We will publish a full report of what happened and what we changed."))
    if facts.contact_point:
        parts.append(s._("Questions: %(contact)s.", contact=facts.contact_point))
    return " ".join(parts)


def signature(s: Speaker, facts: NoticeFacts) -> str:
    return _t(s, facts.signatory) or s._("The %(company)s team", company=facts.company)


def rating_question(s: Speaker) -> str:
    """After the signature, apart from the apology itself: a question about our
    handling, never about buying anything (the auditor's U1 must still pass)."""
    return s._("How well did we handle this? One click tells us:")


def rating_labels(s: Speaker) -> list[tuple[int, str]]:
    """The 1–5 scale, each point named, so the numbers mean the same to everyone."""
    return [
        (1, s._("very badly")),
        (2, s._("badly")),
        (3, s._("acceptably")),
        (4, s._("well")),
        (5, s._("very well")),
    ]
