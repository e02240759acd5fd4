"""Drafted notices: started from the composer, versions on every edit, texts
checked as sandboxed templates, rendered per customer, and sent through the
delivery ledger once. Both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from amends import flows
from amends.catalog.models import Customer, Site
from amends.delivery.models import Delivery, DeliveryState, Notice, NoticeKind
from amends.errors import Conflict, ValidationFailed
from amends.facts.models import AuditOverride
from amends.incidents.models import ComponentStatus
from amends.messages.drafts import rendering
from amends.messages.drafts import service as drafts
from amends.messages.drafts.models import DraftKind, DraftState
from amends.messages.notices import NoticeRenderer, Row
from amends.users.models import AuditEntry
from tests import factories

COMPANY, URL = "Hosting", "https://status.example"
WRITER, CHECKER = "ana@console.example", "bob@console.example"


def _incident(session: Session, resolved: bool = False) -> tuple[int, list[Customer]]:
    factories.hosting_catalog(session)
    ana = factories.customer(
        session, name="Ana Ruiz", locale="es", phone="+34600000001", channels=["email", "sms"]
    )
    bob = factories.customer(session, name="Bob Lee", locale="en")
    factories.site(session, ana, ["dns"])
    factories.site(session, ana, ["web-hosting"])
    factories.site(session, bob, ["email"])
    factories.site(session, factories.customer(session, name="Not hit"), ["domains"])
    incident, _ = flows.open_incident(
        session=session, title="DNS down", components={"dns": ComponentStatus.major_outage},
        notify=False,
    )  # fmt: skip
    if resolved:
        flows.resolve(session=session, incident_id=incident.id, message="Fixed", notify=False)
    return incident.id, [ana, bob]


def _new(session: Session, incident_id: int, kind: DraftKind = DraftKind.correction):  # type: ignore[no-untyped-def]
    return drafts.create(
        session=session, incident_id=incident_id, kind=kind, who=WRITER, company=COMPANY,
        public_url=URL,
    )  # fmt: skip


def _texts(draft, **changes: str) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    texts = {lang: dict(parts) for lang, parts in draft.current.texts.items()}
    for key, value in changes.items():
        lang, part = key.split("_", 1)
        texts[lang][part] = value
    return texts


@pytest.mark.parametrize("kind", list(DraftKind))
def test_a_draft_starts_from_the_composer_in_both_languages(
    session: Session, kind: DraftKind
) -> None:
    incident_id, _ = _incident(session, resolved=True)
    draft = _new(session, incident_id, kind)
    assert (draft.state, draft.version, draft.created_by) == (DraftState.draft, 1, WRITER)
    es, en = draft.current.texts["es"], draft.current.texts["en"]
    assert set(es) == set(en) == {"subject", "email", "sms", "voice"}
    assert "{{ name }}" in en["email"] and "{{ name }}" in es["email"]
    assert "DNS down" in en["subject"] and "DNS down" in es["subject"]
    if kind is DraftKind.correction:
        assert en["subject"] == "Correction: DNS down" and es["subject"] == "Corrección: DNS down"
    if kind is DraftKind.first_notice:
        assert "{{ sites }}" in en["email"] and "{{ sites }}" in en["sms"]
    for lang in ("es", "en"):
        for part, text in draft.current.texts[lang].items():
            rendering.check(lang, part, text)  # every starting text is a valid template


def test_a_resolution_draft_waits_for_the_resolution(session: Session) -> None:
    incident_id, _ = _incident(session)
    with pytest.raises(ValidationFailed, match="resolved_at"):
        _new(session, incident_id, DraftKind.resolution)


def test_every_edit_is_a_version_with_who_and_when(session: Session) -> None:
    incident_id, _ = _incident(session)
    draft = _new(session, incident_id)
    same = drafts.save(session=session, draft_id=draft.id, texts=_texts(draft), who=CHECKER)
    assert same.version == 1  # nothing changed: no version
    drafts.ask(session=session, draft_id=draft.id, who=WRITER)
    assert draft.state is DraftState.requested
    edited = drafts.save(
        session=session, draft_id=draft.id,
        texts=_texts(draft, en_email="Hello {{ name }}, our earlier figure was wrong."),
        who=CHECKER,
    )  # fmt: skip
    assert edited.version == 2 and edited.state is DraftState.draft  # the request is taken back
    assert edited.requested_by is None
    first, second = edited.versions
    assert (first.number, first.written_by, second.number, second.written_by) == (
        1, WRITER, 2, CHECKER,
    )  # fmt: skip
    assert second.written_at >= first.written_at
    assert second.text("en", "email") == "Hello {{ name }}, our earlier figure was wrong."
    assert "{{ name }}" in first.text("en", "email") and first.text("en", "email") != (
        second.text("en", "email")
    )
    assert edited.authors == {WRITER, CHECKER}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Hello {{ name }", "e-mail body (en)"),
        ("Hello {{ customer }}", "unknown field {{ customer }}"),
        ("{{ name.__class__.__mro__ }}", "getattr is not allowed"),
        ("{{ name['upper'] }}", "getitem is not allowed"),
        ("{{ name.upper() }}", "not allowed"),
        ("{{ range(10) }}", "call is not allowed"),
        ("{% set x = 1 %}{{ x }}", "assign is not allowed"),
        ("{% for c in sites %}{% for d in sites %}x{% endfor %}{% endfor %}", "for is not allowed"),
        ("{{ name * 100000000 }}", "mul is not allowed"),
        ("{% include 'en/sms.j2' %}", "include is not allowed"),
        ("{{ sites | attr('x') }}", "the filter 'attr' is not allowed"),
        ("{{ lipsum }}", "unknown field {{ lipsum }}"),
        ("", "empty"),
    ],
)
def test_a_bad_text_is_refused_naming_the_field(session: Session, text: str, says: str) -> None:
    incident_id, _ = _incident(session)
    draft = _new(session, incident_id)
    with pytest.raises(ValidationFailed) as refused:
        drafts.save(session=session, draft_id=draft.id, texts=_texts(draft, en_email=text),
                    who=WRITER)  # fmt: skip
    assert says in refused.value.message
    assert refused.value.field == "en.email"
    assert draft.version == 1


def test_the_sandbox_itself_refuses_what_a_check_might_miss() -> None:
    """Even a template compiled straight in the sandbox reaches no attribute."""
    from jinja2.exceptions import SecurityError, UndefinedError

    env = rendering.sandbox()
    for source in ("{{ name.__class__ }}", "{{ name.upper() }}", "{{ ''.__class__ }}"):
        with pytest.raises((SecurityError, UndefinedError)):
            env.from_string(source).render(name="Ana", sites="")
    assert env.globals == {} and set(env.filters) == set(rendering.FILTERS)


def test_personalised_per_customer_and_language() -> None:
    texts = {
        lang: {
            "subject": "{{ name | upper }}: corrección" if lang == "es" else "{{ name }}: fix",
            "email": "Hola {{ name }}.\n\n- uno\n- dos\n\nSitios: {{ sites }}.",
            "sms": "Sitios: {{ sites }} " + "á" * 10,
            "voice": "Hola {{ name }}.",
        }
        for lang in ("es", "en")
    }
    sites = ["a.example", "b.example", "c.example", "d.example", "e.example"]
    es = rendering.personal(texts, "es", name="<Ana>", sites=sites, unsubscribe="https://u/x")
    assert es.subject == "<ANA>: corrección"
    assert "Sitios: a.example, b.example, c.example y 2 más." in es.text
    assert es.text.endswith("Dejar de recibir estos avisos: https://u/x\n")
    assert "&lt;Ana&gt;" in es.html and "<Ana>" not in es.html  # escaped in HTML
    assert "<li>uno</li>" in es.html and 'href="https://u/x"' in es.html
    assert (es.sms_encoding, es.sms_segments) == ("UCS-2", 1)
    en = rendering.personal(texts, "en", name="Bob", sites=sites[:2])
    assert en.subject == "Bob: fix" and "a.example and b.example" in en.text


def _rows(session: Session, notice_id: int) -> list[Delivery]:
    return list(
        session.scalars(
            select(Delivery).where(Delivery.notice_id == notice_id).order_by(Delivery.id)
        )
    )


def test_sending_owes_each_affected_customer_once_and_renders_the_drafted_text(
    session: Session,
) -> None:
    incident_id, (ana, bob) = _incident(session)
    draft = _new(session, incident_id)
    texts = _texts(
        draft,
        en_email="Hello {{ name }}, about {{ sites }}: the figure we gave was wrong.",
        es_email="Hola {{ name }}, sobre {{ sites }}: la cifra que dimos era errónea.",
        es_sms="Corrección para {{ name }}: {{ sites }}.",
    )
    drafts.save(session=session, draft_id=draft.id, texts=texts, who=WRITER)
    sent, result, reports = flows.send_draft(
        session=session, draft_id=draft.id, who=CHECKER, company=COMPANY, public_url=URL
    )
    assert sent.state is DraftState.sent and sent.approved_by == CHECKER
    assert (sent.sent_version, sent.notice_id) == (2, result.notice.id)
    assert set(reports) == {"es", "en"} and not any(r.blocked for r in reports.values())
    notice = session.get(Notice, result.notice.id)
    assert notice is not None and notice.kind is NoticeKind.draft and notice.update_key == draft.id
    rows = _rows(session, notice.id)
    # ana: e-mail and SMS (she gave a phone); bob: e-mail; nobody else, no subscriber
    assert sorted((r.recipient_id, r.channel) for r in rows) == sorted(
        [(ana.id, "email"), (ana.id, "sms"), (bob.id, "email")]
    )
    assert {str(r.recipient_kind) for r in rows} == {"customer"}
    assert all(r.state is DeliveryState.pending for r in rows)

    renderer = NoticeRenderer(public_url=URL, sender=COMPANY, unsubscribe_key=b"k" * 32)
    messages = renderer.render(
        session,
        [Row(r.id, r.notice_id, str(r.recipient_kind), r.recipient_id, r.channel, r.address,
             r.locale) for r in rows],
    )  # fmt: skip
    by = {(m.name, "sms" if m.html is None else "email"): m for m in messages}
    ana_domains = sorted(session.scalars(select(Site.domain).where(Site.customer_id == ana.id)))
    mail = by[("Ana Ruiz", "email")]
    assert mail.text.startswith(f"Hola Ana Ruiz, sobre {ana_domains[0]} y {ana_domains[1]}:")
    assert mail.subject == "Corrección: DNS down" and mail.unsubscribe_url
    assert mail.html and "Hola Ana Ruiz" in mail.html
    assert (
        by[("Ana Ruiz", "sms")].text
        == f"Corrección para Ana Ruiz: {ana_domains[0]} y {ana_domains[1]}."
    )
    assert by[("Bob Lee", "email")].text.startswith("Hello Bob Lee, about ")

    # a later edit is refused, and so is a second send: nothing is written twice
    with pytest.raises(Conflict, match="sent"):
        drafts.save(session=session, draft_id=draft.id, texts=_texts(draft), who=WRITER)
    with pytest.raises(Conflict, match="already sent"):
        flows.send_draft(
            session=session, draft_id=draft.id, who=CHECKER, company=COMPANY, public_url=URL
        )
    assert session.scalar(select(func.count()).select_from(Notice)) == 1
    assert len(_rows(session, notice.id)) == 3


def test_two_drafts_are_two_notices(session: Session) -> None:
    incident_id, _ = _incident(session)
    for _ in range(2):
        draft = _new(session, incident_id)
        flows.send_draft(
            session=session, draft_id=draft.id, who=CHECKER, company=COMPANY, public_url=URL
        )
    notices = session.scalars(select(Notice).order_by(Notice.id)).all()
    assert [n.kind for n in notices] == [NoticeKind.draft] * 2
    assert session.scalar(select(func.count()).select_from(Delivery)) == 2 * 3


BLOCKING = "We are sorry for any inconvenience this may have caused."  # N2: a conditional apology


def test_a_blocking_finding_needs_a_reason_which_is_recorded(session: Session) -> None:
    incident_id, _ = _incident(session)
    draft = _new(session, incident_id)
    drafts.save(session=session, draft_id=draft.id, texts=_texts(draft, en_email=BLOCKING),
                who=WRITER)  # fmt: skip
    with pytest.raises(Conflict, match="auditor blocks this draft"), session.begin_nested():
        flows.send_draft(session=session, draft_id=draft.id, who=CHECKER, company=COMPANY,
                         public_url=URL)  # fmt: skip
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Notice)) == 0
    assert drafts.get(session=session, draft_id=draft.id).state is DraftState.draft
    _, _, reports = flows.send_draft(
        session=session, draft_id=draft.id, who=CHECKER, company=COMPANY, public_url=URL,
        override_reason="Legal approved this exact wording",
    )  # fmt: skip
    assert reports["en"].blocked and not reports["es"].blocked
    (override,) = session.scalars(select(AuditOverride)).all()
    assert (override.who, override.locale, override.why) == (
        CHECKER, "en", "Legal approved this exact wording",
    )  # fmt: skip
    assert "N2" in override.rules


def test_a_reason_when_nothing_blocks_is_refused(session: Session) -> None:
    incident_id, _ = _incident(session)
    draft = _new(session, incident_id)
    with pytest.raises(ValidationFailed, match="nothing blocks"):
        flows.send_draft(session=session, draft_id=draft.id, who=CHECKER, company=COMPANY,
                         public_url=URL, override_reason="just because I can")  # fmt: skip


def test_the_two_person_rule(session: Session) -> None:
    incident_id, _ = _incident(session)
    draft = _new(session, incident_id)

    def send(who: str) -> object:
        return flows.send_draft(session=session, draft_id=draft.id, who=who, company=COMPANY,
                                public_url=URL, two_person=True)  # fmt: skip

    with pytest.raises(Conflict, match="must ask"):
        send(CHECKER)
    drafts.ask(session=session, draft_id=draft.id, who=CHECKER)
    with pytest.raises(Conflict, match="cannot also approve"):
        send(CHECKER)  # asked for it
    with pytest.raises(Conflict, match="cannot also approve"):
        send(WRITER)  # wrote it
    send("carol@console.example")
    assert draft.state is DraftState.sent and draft.requested_by == CHECKER


def test_a_discarded_draft_is_neither_edited_nor_sent(session: Session) -> None:
    incident_id, _ = _incident(session)
    draft = _new(session, incident_id)
    drafts.discard(session=session, draft_id=draft.id, who=WRITER)
    assert draft.state is DraftState.discarded and draft.discarded_by == WRITER
    with pytest.raises(Conflict, match="discarded"):
        flows.send_draft(session=session, draft_id=draft.id, who=CHECKER, company=COMPANY,
                         public_url=URL)  # fmt: skip
    with pytest.raises(Conflict, match="discarded"):
        drafts.ask(session=session, draft_id=draft.id, who=WRITER)
    assert drafts.list_drafts(session=session, incident_id=incident_id) == [draft]


def test_every_change_is_in_the_audit_log_once_with_where_it_came_from(session: Session) -> None:
    """The service writes the audit log itself, so no front end can forget it;
    an unchanged save and a refused send write nothing."""
    incident_id, _ = _incident(session)
    draft = _new(session, incident_id)
    drafts.save(session=session, draft_id=draft.id, texts=draft.current.texts, who=WRITER)
    drafts.save(session=session, draft_id=draft.id, texts=_texts(draft, en_sms="Fixed: {{ name }}"),
                who=WRITER, ip="10.0.0.7", via="key ab12")  # fmt: skip
    drafts.ask(session=session, draft_id=draft.id, who=WRITER)
    with pytest.raises(Conflict):
        flows.send_draft(session=session, draft_id=draft.id, who=WRITER, company=COMPANY,
                         public_url=URL, two_person=True)  # fmt: skip
    flows.send_draft(session=session, draft_id=draft.id, who=CHECKER, company=COMPANY,
                     public_url=URL, two_person=True)  # fmt: skip
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.actor, e.action) for e in entries] == [
        (WRITER, "draft.create"),
        (WRITER, "draft.edit"),
        (WRITER, "draft.request"),
        (CHECKER, "draft.send"),
    ]
    edit = entries[1]
    assert (edit.ip, edit.detail) == ("10.0.0.7", f"draft {draft.id}: version 2; key ab12")
    assert entries[3].detail.startswith(f"draft {draft.id}: version 2: notice ")
    assert f"asked by {WRITER}" in entries[3].detail
