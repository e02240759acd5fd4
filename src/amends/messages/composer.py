"""compose(kind, facts, customer, locale, channel): one customer's message.

Every kind is a list of named sections built from :mod:`amends.messages.blocks`;
the channel decides the form: e-mail (subject, text and HTML), SMS (at most two
segments, pointing to the full message) or a short voice script. The apology's
sections are the seven steps; when data was exposed its reassurance is replaced
by the breach notice's most urgent step, and the breach notice itself is a
dedicated message (no credit, no other news: WP29).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

from jinja2 import Environment, PackageLoader, select_autoescape

from amends.errors import ValidationFailed
from amends.facts.kinds import Exposure
from amends.messages import blocks as b
from amends.messages import segments
from amends.messages.audit import AuditFacts, Report, audit
from amends.messages.context import Context, Section, section
from amends.messages.i18n import Speaker
from amends.messages.inputs import Composed, CreditOffer, NoticeFacts, Recipient, TrackRecord
from amends.messages.kinds import ChannelForm, NoticeKind
from amends.messages.short import sms_text, voice_script


def _next_update(i: Context) -> str:
    if i.facts.next_update_at is None:
        return i.s._("We will send an update as soon as we know more.")
    return i.s._("Our next update will come by %(when)s.", when=i.s.when(i.facts.next_update_at))


def _affects(i: Context) -> str:
    if not i.sites:
        return ""
    return i.s.n_(
        "This affects your site %(sites)s.",
        "This affects your sites %(sites)s.",
        len(i.sites),
        sites=i.s.sites(i.sites),
    )


def _first_notice(i: Context) -> tuple[str, list[Section]]:
    s, f = i.s, i.facts
    subject = s._("We are working on a problem: %(title)s", title=i.t(f.title))
    what = s._(
        "Since %(start)s, %(what)s has not been working.",
        start=s.when(f.started_at),
        what=i.t(f.what_failed),
    )
    seen = b._sentence(i.t(f.customer_effect))
    sections = [
        section("what", what, _affects(i), s._("What you see:") + " " + seen if seen else ""),
        section("working", s._("We are sorry. We are working on it now."), _next_update(i)),
    ]
    if f.reassurance_allowed:
        sections.append(section("reassure", b.reassure(s, f)[1]))
    return subject, sections


def _update(i: Context) -> tuple[str, list[Section]]:
    s, f = i.s, i.facts
    subject = s._("Update: %(title)s", title=i.t(f.title))
    latest = b._sentence(i.t(f.latest_update))
    return subject, [
        section(
            "status",
            s._("%(what)s is still not working as it should.", what=i.t(f.what_failed)),
            _affects(i),
            latest,
        ),
        section("next", _next_update(i)),
    ]


def _resolution(i: Context) -> tuple[str, list[Section]]:
    s, f = i.s, i.facts
    if f.resolved_at is None:
        raise ValidationFailed("a resolution notice needs resolved_at", field="resolved_at")
    subject = s._("Resolved: %(title)s", title=i.t(f.title))
    return subject, [
        section(
            "resolved",
            s._("%(what)s is working again.", what=i.t(f.what_failed)),
            s._("It was down %(window)s.", window=b.window(s, f)),
            _affects(i),
        ),
        section(
            "next",
            s._(
                "We are sorry. We will write to you again with what happened, what we are "
                "changing and what we owe you."
            ),
        ),
    ]


def _apology(i: Context) -> tuple[str, list[Section]]:
    s, f = i.s, i.facts
    subject = s._("We are sorry: %(title)s", title=i.t(f.title))
    name, text = b.reassure(s, f)
    sections = [
        section("admit", b.admit(s, f, i.sites)),
        section("serious", b.serious(s)),
        section("why", b.why(s, f)),
        section(name, text),
    ]
    record = [b.track_record(s, i.track_record)] if i.track_record else []
    sections.append(section("track_record", *record, b.learned(s)))
    if i.credit is not None:
        sections.append(section("compensate", b.compensate(s, i.credit)))
    sections.append(section("closing", b.closing(s, f)))
    return subject, sections


def _breach_notice(i: Context) -> tuple[str, list[Section]]:
    s, f = i.s, i.facts
    if f.exposure is not Exposure.confirmed:
        raise ValidationFailed("a breach notice needs a confirmed exposure", field="exposure")
    subject = s._("Notice of data breach: %(title)s", title=i.t(f.title))
    kinds = list(f.exposed_data)
    happened = [
        s._("We are sorry: we failed to protect your data."),
        s._("It started on %(start)s.", start=s.when(f.started_at)),
        b.capital(b._sentence(i.t(f.root_cause) or i.t(f.what_failed))),
    ]
    doing = [b.capital(b._sentence(i.t(a))) for a in f.actions_taken]
    if f.actions_planned:
        doing.append(
            s._(
                "To prevent this from happening again, we will: %(actions)s.",
                actions=b._list(s, f.actions_planned),
            )
        )
    if not doing:
        doing = [s._("We have closed the way in and we are checking every system involved.")]
    todo = [line for kind in kinds for line in b.steps(s, kind, f)] + [b.phishing(s)]
    contact = f.contact_point or s._("reply to this message")
    return subject, [
        section("what_happened", *happened, heading=s._("What happened")),
        section(
            "what_information",
            s._("The data involved: %(kinds)s.", kinds=s.items([b.data_kind(s, k) for k in kinds])),
            *[b.consequences(s, k) for k in kinds],
            heading=s._("What information was involved"),
        ),
        section("what_we_are_doing", *doing, heading=s._("What we are doing")),
        section("what_you_can_do", *todo, heading=s._("What you can do"), bullets=True),
        section(
            "more_information",
            s._("Our contact point for this incident: %(contact)s.", contact=contact),
            heading=s._("For more information"),
        ),
    ]


def _maintenance(i: Context) -> tuple[str, list[Section]]:
    s, f = i.s, i.facts
    end = f.ends_at or f.resolved_at
    if end is None:
        raise ValidationFailed("a maintenance notice needs ends_at", field="ends_at")
    subject = s._("Planned maintenance: %(title)s", title=i.t(f.title))
    seen = b._sentence(i.t(f.customer_effect))
    return subject, [
        section(
            "planned",
            s._(
                "We will work on %(what)s from %(start)s to %(end)s.",
                what=i.t(f.what_failed),
                start=s.when(f.started_at),
                end=s.when(end),
            ),
            _affects(i),
            s._("What you will see:") + " " + seen if seen else "",
        ),
    ]


def _postmortem(i: Context) -> tuple[str, list[Section]]:
    s, f = i.s, i.facts
    url = f.postmortem_url or f.status_url
    if not url:
        raise ValidationFailed("a postmortem notice needs postmortem_url", field="postmortem_url")
    subject = s._("Our full report: %(title)s", title=i.t(f.title))
    return subject, [
        section(
            "report",
            s._(
                "We have published our full report on the outage that started on %(day)s: "
                "what happened, why, and what we changed. You can read it at %(url)s.",
                day=s.day(f.started_at),
                url=url,
            ),
        ),
        section("closing", s._("Thank you for the chance to win back your trust.")),
    ]


def _correction(i: Context) -> tuple[str, list[Section]]:
    """We told customers something that was wrong: say so plainly, then the right version."""
    s, f = i.s, i.facts
    subject = s._("Correction: %(title)s", title=i.t(f.title))
    latest = b._sentence(i.t(f.latest_update))
    return subject, [
        section(
            "correction",
            s._("An earlier message of ours about %(what)s was wrong.", what=i.t(f.what_failed)),
            s._("We are sorry for the confusion. This is what is correct:"),
            latest,
            _affects(i),
        ),
        section("next", _next_update(i)),
    ]


BUILDERS: dict[NoticeKind, Callable[[Context], tuple[str, list[Section]]]] = {
    NoticeKind.first_notice: _first_notice,
    NoticeKind.update: _update,
    NoticeKind.resolution: _resolution,
    NoticeKind.apology: _apology,
    NoticeKind.breach_notice: _breach_notice,
    NoticeKind.maintenance: _maintenance,
    NoticeKind.postmortem_published: _postmortem,
    NoticeKind.correction: _correction,
}


@functools.cache
def _jinja() -> Environment:
    return Environment(
        loader=PackageLoader("amends.messages", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


#: The notices that ask "how well did we handle this?" (e-mail only: SMS and voice are short).
RATED = (NoticeKind.resolution, NoticeKind.apology)


def _rating(i: Context, rating_url: str | None) -> tuple[str, list[tuple[str, str]]]:
    """The question and one (label, link) per point of the scale; nothing without a link."""
    if not rating_url:
        return "", []
    url = rating_url.rstrip("/")
    return b.rating_question(i.s), [
        (f"{score} · {label}", f"{url}/{score}") for score, label in b.rating_labels(i.s)
    ]


def _email(
    i: Context,
    kind: NoticeKind,
    subject: str,
    sections: list[Section],
    rating_url: str | None = None,
) -> Composed:
    s = i.s
    greeting = b.greeting(s, i.customer.name)
    signature = b.signature(s, i.facts)
    question, choices = _rating(i, rating_url if kind in RATED else None)
    parts = [greeting, *(sec.text for sec in sections), signature]
    if choices:
        parts.append("\n".join([question, *(f"- {label}: {url}" for label, url in choices)]))
    text = "\n\n".join(parts) + "\n"
    html = (
        _jinja()
        .get_template("email.html")
        .render(
            lang=s.lang,
            subject=subject,
            greeting=greeting,
            sections=sections,
            signature=signature,
            redeem_url=i.credit.redeem_url if i.credit else None,
            redeem_label=s._("Redeem your credit"),
            rating_question=question,
            rating_choices=choices,
        )
    )
    return Composed(
        kind.value,
        str(s.locale),
        ChannelForm.email.value,
        subject,
        text,
        html,
        tuple((sec.name, sec.text) for sec in sections),
    )


def compose(
    kind: NoticeKind | str,
    facts: NoticeFacts,
    customer: Recipient,
    locale: str,
    channel: ChannelForm | str,
    *,
    credit: CreditOffer | None = None,
    track_record: TrackRecord | None = None,
    sites: Sequence[str] = (),
    rating_url: str | None = None,
) -> Composed:
    """One message for one customer: ``kind`` in ``locale`` over ``channel``.

    ``sites`` are the customer's affected sites (domains), named first few
    then "and N more". ``credit`` and ``track_record`` come from the credits
    and availability domains; without them the apology leaves out the
    compensation and the figure rather than inventing either. ``rating_url``
    (``…/rate/<token>``, from :mod:`amends.ratings.links`) adds the one-click
    "how well did we handle this?" to a resolution or apology e-mail.
    """
    try:
        kind, channel = NoticeKind(kind), ChannelForm(channel)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="kind") from None
    if kind is NoticeKind.breach_notice and credit is not None:
        raise ValidationFailed("a breach notice carries no credit (WP29)", field="credit")
    i = Context(Speaker(locale, customer.timezone), facts, customer, sites, credit, track_record)
    subject, sections = BUILDERS[kind](i)
    exposed = facts.exposure is Exposure.confirmed
    if exposed and kind not in (NoticeKind.apology, NoticeKind.breach_notice):
        sections.append(section("data", b.reassure(i.s, facts)[1]))
    if channel is ChannelForm.email:
        return _email(i, kind, subject, sections, rating_url)
    if channel is ChannelForm.sms:
        text = sms_text(i, kind)
        return Composed(
            kind.value,
            str(i.s.locale),
            channel.value,
            subject,
            text,
            encoding=str(segments.encoding_of(text)),
            segments=segments.count_segments(text),
        )
    return Composed(kind.value, str(i.s.locale), channel.value, subject, voice_script(i, kind))


def audit_kind(composed: Composed) -> str:
    """Which rule set a composed message is audited with."""
    if composed.channel == ChannelForm.email.value and composed.kind in (
        "apology",
        "breach_notice",
    ):
        return composed.kind
    return "notice"


def audit_composed(
    composed: Composed,
    facts: NoticeFacts,
    track_record: TrackRecord | None = None,
    *,
    forms: Mapping[str, Composed] | None = None,
) -> Report:
    """The auditor's report on a composed message (subject and text together);
    with ``forms`` (the same notice for SMS, voice…), also whether they agree (S4)."""
    gate = AuditFacts(
        cause_owner=facts.cause_owner,
        exposure=facts.exposure,
        exposure_signed_off=facts.reassurance_allowed,
        measured_availability=track_record.availability if track_record else None,
    )
    text = f"{composed.subject}\n\n{composed.text}"
    others = {name: form.text for name, form in (forms or {}).items()}
    return audit(text, composed.locale, kind=audit_kind(composed), facts=gate, forms=others)
