"""The composer: every kind, channel and language; Spanish as Spanish; the auditor's verdict."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import amends.messages as messages_pkg
from amends.errors import ValidationFailed
from amends.facts.kinds import DataKind, Exposure
from amends.messages.audit import Verdict
from amends.messages.audit.lexicons import lexicon
from amends.messages.audit.text import fold
from amends.messages.composer import RATED, audit_composed, compose
from amends.messages.inputs import CreditOffer, Recipient
from amends.messages.kinds import ChannelForm, NoticeKind
from tests.messages_support import (
    DNS_RECORD,
    DOMAINS,
    LOCALES,
    RECIPIENTS,
    T0,
    TRACK,
    credit,
    credits,
    facts,
    godaddy_facts,
)

PKG = Path(messages_pkg.__file__).parent
SITES = ["shop.example.com", "blog.example.es", "mail.example.mx", "a.example", "b.example"]
ANA = Recipient("Ana", "Europe/Madrid")
JOE = Recipient("Joe", "America/Phoenix")


def test_every_message_string_is_translated_to_spanish() -> None:
    extracted = set()
    for name in ("blocks.py", "composer.py", "short.py", "i18n.py", "variants.py"):
        for _line, msgid, _c, _x in extract_from_file(
            "python", PKG / name, keywords={"_": None, "n_": (1, 2)}
        ):
            extracted.add(msgid if isinstance(msgid, str) else msgid[0])
    with (PKG / "locale/es/LC_MESSAGES/amends.po").open("rb") as po:
        catalog = read_po(po)
    translated = {}
    for m in catalog:
        if not m.id:
            continue
        key = m.id if isinstance(m.id, str) else m.id[0]
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        assert all(strings) and not m.fuzzy, key
        placeholders = set(re.findall(r"%\(\w+\)[sd]", key))
        for text in strings:  # every translation keeps the placeholders
            assert set(re.findall(r"%\(\w+\)[sd]", text)) == placeholders, (key, text)
        translated[key] = strings
    assert extracted <= set(translated), extracted - set(translated)
    assert catalog.plural_forms == "nplurals=2; plural=(n != 1);"


def _email(lang: str, **kw: object):  # type: ignore[no-untyped-def]
    person = ANA if lang.startswith("es") else JOE
    return compose(
        "apology",
        kw.pop("facts", godaddy_facts()),  # type: ignore[arg-type]
        person,
        lang,
        "email",
        credit=kw.pop("credit", credit(SITES)),  # type: ignore[arg-type]
        track_record=DNS_RECORD,
        sites=SITES,
    )


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_apology_is_the_seven_steps_and_audits_clean(lang: str) -> None:
    message = _email(lang)
    names = [name for name, _ in message.blocks]
    assert names == ["admit", "serious", "why", "reassure", "track_record", "compensate", "closing"]
    report = audit_composed(message, godaddy_facts(), DNS_RECORD)
    assert not report.blocked, report.to_dict()
    assert all(s.present for s in report.steps)
    assert {f.verdict for f in report.findings} == {Verdict.passed}, report.to_dict()


def test_spanish_is_spanish() -> None:
    text = _email("es").text
    assert text.startswith("Estimado/a Ana:")
    assert "Le hemos fallado, y fue nuestro error." in text
    assert "equivalente a 1 mes de servicio" in text
    assert "mail.example.mx y 2 más" in text  # sites: the first three, then "y N más"
    assert "64,95\xa0US$" in text  # Babel's Spanish money format
    assert "99,999\xa0%" in text  # floored, never rounded up (measured 99.99931)
    # Times in Madrid, with the article Spanish needs: "a la 1:25", "a las 19:25"
    assert "10 de septiembre de 2012, a las 19:25 (CEST)" in text
    assert "11 de septiembre de 2012, a la 1:25 (CEST)" in text
    two = _email("es", credit=credit(SITES, months=2)).text
    assert "equivalente a 2 meses de servicio" in two
    one_site = compose(
        "apology", godaddy_facts(), ANA, "es", "email", credit=credit(["x.es"]), sites=["x.es"]
    )
    assert "para su sitio x.es." in one_site.text and "afectó a su sitio x.es." in one_site.text
    for word in ("interrupción", "crédito", "botón", "Ningún", "contraseñas"):
        assert word in text


def test_english_in_the_customers_zone() -> None:
    text = _email("en").text
    assert "September 10, 2012, 10:25\u202fAM MST" in text  # Arizona
    assert "mail.example.mx, and 2 more" in text
    assert "$64.95" in text and "equal to 1 month of service" in text
    assert "99.999%" in text


def test_html_is_escaped_and_has_the_redeem_button() -> None:
    sneaky = Recipient("<script>alert(1)</script>", "UTC")
    message = compose(
        "apology", godaddy_facts(), sneaky, "es", "email", credit=credit(SITES), sites=SITES
    )
    assert message.html is not None
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert '<html lang="es">' in message.html
    assert 'href="https://gd.example/r/3fZk9q"' in message.html
    assert "Canjear su crédito" in message.html


def test_without_credit_or_track_record_nothing_is_invented() -> None:
    message = compose("apology", godaddy_facts(), JOE, "en", "email", sites=SITES)
    assert message.block("compensate") is None
    assert "%" not in message.text and "credit" not in message.text
    report = audit_composed(message, godaddy_facts())
    assert report.finding("A2").verdict is Verdict.warn  # only a corrective action
    assert not report.blocked


def test_reassurance_needs_a_signed_off_none() -> None:
    unsigned = godaddy_facts(exposure_signed_off_by=None)
    text = compose("apology", unsigned, JOE, "en", "email", sites=SITES).text
    assert "No customer data was compromised" not in text
    assert "still investigating whether any data was affected" in text


def test_confirmed_exposure_replaces_reassurance_with_the_breach_steps() -> None:
    leaked = godaddy_facts(
        exposure=Exposure.confirmed,
        exposure_signed_off_by=None,
        exposed_data=[DataKind.passwords, DataKind.payment_cards],
    )
    apology = compose("apology", leaked, ANA, "es", "email", credit=credit(SITES), sites=SITES)
    assert apology.block("reassure") is None
    assert "Cambie ahora la contraseña" in (apology.block("data") or "")
    notice = compose("breach_notice", leaked, ANA, "es", "email", sites=SITES)
    assert notice.subject.startswith("Aviso de violación de datos")
    assert [n for n, _ in notice.blocks] == [
        "what_happened",
        "what_information",
        "what_we_are_doing",
        "what_you_can_do",
        "more_information",
    ]
    todo = notice.block("what_you_can_do") or ""
    for step in (
        "Cambie ahora la contraseña",
        "demás servicios",
        "verificación en dos pasos",
        "extractos de su tarjeta",
        "phishing",
    ):
        assert step in todo
    assert "privacy@godaddy.example" in (notice.block("more_information") or "")
    assert "crédito" not in notice.text.replace("tarjeta", "")  # dedicated: no credit
    report = audit_composed(notice, leaked)
    assert not report.blocked, report.to_dict()
    with pytest.raises(ValidationFailed):
        compose("breach_notice", leaked, ANA, "es", "email", credit=credit(SITES))
    with pytest.raises(ValidationFailed):
        compose("breach_notice", godaddy_facts(), ANA, "es", "email")


def test_bad_input_is_refused_by_field() -> None:
    for bad, field in (
        ({"amount_minor": 12.5}, "amount_minor"),
        ({"amount_minor": 0}, "amount_minor"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "usd"}, "currency"),
        ({"available_at": dt.datetime(2012, 9, 12)}, "available_at"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            credit(SITES, **bad)
        assert refused.value.field == field
    with pytest.raises(ValidationFailed) as no_sites:
        credit([], amount_minor=100)
    assert no_sites.value.field == "sites"
    with pytest.raises(ValidationFailed) as zone:
        compose("apology", godaddy_facts(), Recipient("A", "Mars/Olympus"), "en", "email")
    assert zone.value.field == "timezone"
    with pytest.raises(ValidationFailed) as lang:
        compose("apology", godaddy_facts(), JOE, "fr", "email")
    assert lang.value.field == "locale"
    with pytest.raises(ValidationFailed):
        compose("poem", godaddy_facts(), JOE, "en", "email")


@pytest.mark.parametrize("kind", list(NoticeKind))
@pytest.mark.parametrize("channel", list(ChannelForm))
@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_kind_and_channel_composes_and_passes(
    kind: NoticeKind, channel: ChannelForm, lang: str
) -> None:
    f = godaddy_facts(
        ends_at=T0 + dt.timedelta(hours=2),
        next_update_at=T0 + dt.timedelta(minutes=30),
        postmortem_url="https://status.godaddy.example/pm/1",
    )
    if kind is NoticeKind.breach_notice:
        f = godaddy_facts(
            exposure=Exposure.confirmed,
            exposure_signed_off_by=None,
            exposed_data=[DataKind.api_keys],
        )
    offer = credit(SITES) if kind is NoticeKind.apology else None
    message = compose(kind, f, ANA, lang, channel, credit=offer, sites=SITES)
    assert message.text.strip() and message.subject.strip()
    assert not audit_composed(message, f).blocked, audit_composed(message, f).to_dict()
    if channel is ChannelForm.sms:
        assert message.segments is not None and message.segments <= 2
        # The customer's own redemption link wins over the details page when
        # both do not fit (Spanish goes UCS-2: 134 characters).
        wanted = offer.redeem_url if offer and offer.redeem_url else "https://gd.example/m/7Qx2"
        assert wanted in message.text
    if channel is ChannelForm.voice:
        assert "http" not in message.text and len(message.text) < 600


RATE = "https://status.example/rate/7.42.a.AbCdEfGhIjKlMnOpQrStUv"


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("kind", [NoticeKind.resolution, NoticeKind.apology])
def test_the_rating_block_asks_how_we_did_and_is_no_upsell(lang: str, kind: NoticeKind) -> None:
    f = godaddy_facts()
    offer = credit(SITES) if kind is NoticeKind.apology else None
    message = compose(kind, f, ANA, lang, "email", credit=offer, sites=SITES, rating_url=RATE)
    question = {
        "en": "How well did we handle this? One click tells us:",
        "es": "¿Cómo hemos gestionado esta incidencia? Díganoslo con un clic:",
    }[lang]
    lowest, highest = {"en": ("very badly", "very well"), "es": ("muy mal", "muy bien")}[lang]
    text, html = message.text, message.html or ""
    assert question in text and question in html
    assert f"- 1 · {lowest}: {RATE}/1" in text and f"- 5 · {highest}: {RATE}/5" in text
    for score in range(1, 6):
        assert f'href="{RATE}/{score}"' in html
    # after the signature: the apology's steps are unchanged, the rating is no block of them
    assert text.index(question) > text.index("Scott Wagner")
    assert "rating" not in [name for name, _ in message.blocks]
    report = audit_composed(message, f, None)
    assert not report.blocked
    upsell = next(x for x in report.findings if x.rule == "N6")
    assert upsell.verdict is Verdict.passed
    for channel in ("sms", "voice"):  # short forms leave it out
        short = compose(kind, f, ANA, lang, channel, credit=offer, sites=SITES, rating_url=RATE)
        assert "/rate/" not in short.text
    first = compose("first_notice", f, ANA, lang, "email", sites=SITES, rating_url=RATE)
    assert "/rate/" not in first.text  # only the resolution and the apology ask


def _reassures(text: str, lang: str) -> bool:
    pattern = lexicon(lang).pattern("reassurance")
    return any(pattern.search(fold(line)) for line in re.split(r"(?<=[.!?])\s+", text))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    f=facts(),
    customer=RECIPIENTS,
    locale=LOCALES,
    sites=DOMAINS,
    track=TRACK,
    data=st.data(),
)
def test_composed_messages_always_pass_the_auditor(f, customer, locale, sites, track, data) -> None:  # type: ignore[no-untyped-def]
    offer = data.draw(credits(sites))
    kind = data.draw(st.sampled_from(list(NoticeKind)))
    channel = data.draw(st.sampled_from(list(ChannelForm)))
    rating = data.draw(st.sampled_from([None, RATE]))
    if kind is NoticeKind.breach_notice:
        if f.exposure is not Exposure.confirmed:
            return
        offer = None
    message = compose(
        kind, f, customer, locale, channel, credit=offer, track_record=track, sites=sites,
        rating_url=rating,
    )  # fmt: skip
    asks = rating is not None and channel is ChannelForm.email and kind in RATED
    assert (f"{RATE}/5" in message.text) == asks
    report = audit_composed(message, f, track)
    assert not report.blocked, (message.text, report.to_dict())
    if kind is NoticeKind.apology and channel is ChannelForm.email:
        assert [s.present for s in report.steps][:5] == [True] * 5
        assert report.steps[6].present
        assert report.steps[5].present == (offer is not None)
    lang = "es" if locale.startswith("es") else "en"
    if not f.reassurance_allowed:  # a confirmed or unsigned exposure never reassures
        assert not _reassures(message.text, lang), message.text
    if channel is ChannelForm.sms:
        assert message.segments is not None and 1 <= message.segments <= 2


@settings(max_examples=60, deadline=None)
@given(f=facts(exposure=Exposure.confirmed), customer=RECIPIENTS, locale=LOCALES, sites=DOMAINS)
def test_a_confirmed_exposure_never_yields_a_reassurance(f, customer, locale, sites) -> None:  # type: ignore[no-untyped-def]
    lang = "es" if locale.startswith("es") else "en"
    for kind in NoticeKind:
        for channel in ChannelForm:
            message = compose(kind, f, customer, locale, channel, sites=sites)
            assert not _reassures(message.subject + "\n" + message.text, lang), message.text
            assert message.block("reassure") is None


def test_sms_falls_back_to_plainer_wording_to_stay_within_two_segments() -> None:
    many = [f"site-{n}-with-a-long-name.example.com" for n in range(40)]
    long_company = godaddy_facts(company="Hostería y Servicios Telemáticos Núñez de Balboa S.L.")
    for lang in ("en", "es"):
        message = compose(
            "apology", long_company, ANA, lang, "sms", credit=credit(many), sites=many
        )
        assert message.segments is not None and message.segments <= 2
        assert message.text.endswith("https://gd.example/r/3fZk9q")  # the link is never cut
        plain = compose(
            "apology", long_company, ANA, lang, "sms", credit=credit(many, redeem_url=None)
        )
        assert plain.segments is not None and plain.segments <= 2
        assert plain.text.endswith("https://gd.example/m/7Qx2")
    es = compose("apology", godaddy_facts(), ANA, "es", "sms", credit=credit(SITES), sites=SITES)
    assert es.encoding == "UCS-2"  # "interrupción": Spanish accents leave GSM-7
    en = compose("apology", godaddy_facts(), JOE, "en", "sms", credit=credit(SITES), sites=SITES)
    assert en.encoding == "GSM-7" and "\u202f" not in en.text


def test_credit_offer_amount_uses_the_currency_precision() -> None:
    yen = CreditOffer(1500, "JPY", ["a.jp"], T0)
    assert str(yen.amount) == "1500"
    text = compose("apology", godaddy_facts(), JOE, "en", "email", credit=yen, sites=["a.jp"]).text
    assert "¥1,500" in text
    assert "applied to your account automatically" in text


@pytest.mark.parametrize("locale", ["es", "en"])
def test_a_very_long_company_name_is_shortened_before_the_urgent_step(locale: str) -> None:
    """Found by the property above: one 60-letter word could not be cut at a
    word, so the step the customer must take was cut instead (rule S5)."""
    f = godaddy_facts(
        company="A" * 60,
        exposure=Exposure.confirmed,
        exposure_signed_off_by=None,
        exposed_data=[DataKind.email_contents],
        details_url="https://gd.example/m/7Qx2",
    )
    message = compose(NoticeKind.first_notice, f, ANA, locale, ChannelForm.sms)
    assert message.text.endswith(" https://gd.example/m/7Qx2")
    assert not audit_composed(message, f).blocked, message.text
    assert message.segments is not None and message.segments <= 2
