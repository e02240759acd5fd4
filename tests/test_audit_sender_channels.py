"""Rules S1 (a senior, named signatory) and S4 (the same figures on every channel),
both ways, in English and Spanish, many wordings; S4 through the CLI and the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from amends.cli import app
from amends.messages.audit import Verdict, audit
from amends.messages.audit.consistency import consistent, figures

BODY = {
    "en": "We are sorry. We let you down, and this was our fault.",
    "es": "Lo sentimos. Le hemos fallado, y fue nuestro error.",
}

SIGNED = {
    "en": [
        "Ana Ruiz, CEO",
        "Scott Wagner, Chief Executive Officer",
        "— Priya Natarajan, CTO of Hostia",
        "CEO Ana Ruiz",
        "Jon Bell, co-founder and CEO",
        "Mary O'Neil, Managing Director",
        "Luis Ortega, Head of Engineering",
        "Warm regards,\n\nKim Lee\nPresident, Hostia",
        "Sincerely, Ada Obi (Chief Technology Officer)",
    ],
    "es": [
        "Ana Ruiz, consejera delegada",
        "Marta Gómez, directora general de Hostia",
        "Íñigo Pérez, CEO",
        "Atentamente, Lucía Fernández, fundadora",
        "Carlos Núñez\nDirector técnico",
        "Raúl Sanz, presidente",
        "Elena Díaz, jefa de ingeniería",
        "Jorge Ávila, cofundador y CTO",
    ],
}
UNSIGNED = {
    "en": [
        "The Hostia team",
        "The CEO",
        "CEO of Hostia",
        "Customer Support",
        "Best regards, the operations team",
        "Ana Ruiz, support engineer",
    ],
    "es": [
        "El equipo de Hostia",
        "El consejero delegado",
        "Directora general de Hostia",
        "Atención al cliente",
        "Un saludo, el equipo de operaciones",
        "Ana Ruiz, agente de soporte",
    ],
}


def _cases(table: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(lang, text) for lang, texts in table.items() for text in texts]


@pytest.mark.parametrize(("lang", "signature"), _cases(SIGNED))
def test_s1_senior_named_signatory_passes(lang: str, signature: str) -> None:
    finding = audit(f"{BODY[lang]}\n\n{signature}", lang).finding("S1")
    assert finding.verdict is Verdict.passed, finding
    assert signature.split()[-1].strip("()") in finding.evidence


@pytest.mark.parametrize(("lang", "signature"), _cases(UNSIGNED))
def test_s1_team_title_alone_or_junior_is_info_with_a_fix(lang: str, signature: str) -> None:
    finding = audit(f"{BODY[lang]}\n\n{signature}", lang).finding("S1")
    assert finding.verdict is Verdict.info
    assert finding.fix and ("CEO" in finding.fix or "consejera" in finding.fix)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_s1_a_title_quoted_mid_text_is_not_a_signature(lang: str) -> None:
    quoted = {
        "en": "Our CEO Ana Ruiz asked me to write to you.",
        "es": "Nuestra consejera delegada Ana Ruiz me pidió que le escribiera.",
    }[lang]
    filler = " ".join([BODY[lang]] * 3)
    text = f"{quoted} {filler}\n\nThe Hostia team"
    assert audit(text, lang).finding("S1").verdict is Verdict.info


def test_s1_only_judges_apologies() -> None:
    with pytest.raises(KeyError):
        audit("We are investigating.\n\nThe Hostia team", "en", kind="notice").finding("S1")


EMAIL = {
    "en": "We are sorry. Your credit of $25.98 is available at 14:30. Since 2008, 99.99% uptime.",
    "es": "Lo sentimos. Su crédito de 25,98 US$ está disponible a las 14:30. Desde 2008, 99,99 %.",
}
AGREEING = {
    "en": ["Sorry. Your credit: $25.98.", "Credit $25.98 from 14:30.", "We let you down."],
    "es": ["Lo sentimos. Su crédito: 25,98 US$.", "Crédito de 25,98 US$ desde las 14:30."],
}
DISAGREEING = {
    "en": [
        ("Your credit: $30.00.", "'$30.00'"),
        ("Credit from 15:30.", "'15:30'"),
        ("We were up 99.999% of the time.", "'99.999%'"),
        ("Your credit: €25.98.", "'€25.98'"),
    ],
    "es": [
        ("Su crédito: 30,00 US$.", "'30,00 US$'"),
        ("Disponible desde las 16:30.", "'16:30'"),
        ("Disponible el 99,999 % del tiempo.", "'99,999 %'"),
    ],
}


@pytest.mark.parametrize(("lang", "sms"), _cases(AGREEING))
def test_s4_shorter_forms_may_leave_figures_out(lang: str, sms: str) -> None:
    report = audit(EMAIL[lang], lang, forms={"sms": sms, "voice": sms})
    assert report.finding("S4").verdict is Verdict.passed


@pytest.mark.parametrize(
    ("lang", "sms", "quoted"),
    [(lang, *case) for lang, cases in DISAGREEING.items() for case in cases],
)
def test_s4_a_different_figure_warns_naming_it(lang: str, sms: str, quoted: str) -> None:
    finding = audit(EMAIL[lang], lang, forms={"sms": sms}).finding("S4")
    assert finding.verdict is Verdict.warn
    assert "sms says" in finding.evidence and quoted in finding.evidence
    assert finding.fix


def test_s4_absent_without_other_forms() -> None:
    with pytest.raises(KeyError):
        audit(EMAIL["en"], "en").finding("S4")


def test_s4_with_one_form_has_nothing_to_compare() -> None:
    assert consistent({"email": EMAIL["en"]}).verdict is Verdict.info


@given(
    amount=st.decimals(min_value=0, max_value=10**6, places=2),
    other=st.decimals(min_value=0, max_value=10**6, places=2),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
)
def test_s4_property_same_figures_pass_and_changed_amount_warns(
    amount: object, other: object, hour: int, minute: int
) -> None:
    clock = f"{hour}:{minute:02d}"
    email = f"Your credit of ${amount:,} is yours from {clock}."
    assert figures(email)["amount"] == {f"${amount:,}"}
    same = consistent({"email": email, "sms": f"Credit ${amount:,}, from {clock}."})
    assert same.verdict is Verdict.passed
    changed = consistent({"email": email, "sms": f"Credit ${other:,}."})
    assert changed.verdict is (Verdict.passed if other == amount else Verdict.warn)


def test_s4_through_the_cli_and_its_json(tmp_path: Path) -> None:
    email, sms = tmp_path / "email.txt", tmp_path / "sms.txt"
    email.write_text(EMAIL["en"], encoding="utf-8")
    sms.write_text("Your credit: $30.00.", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(
        app, ["audit", str(email), "--lang", "en", "--compare", f"sms={sms}", "--json"]
    )
    s4 = next(f for f in json.loads(result.output)["findings"] if f["rule"] == "S4")
    assert s4["verdict"] == "warn" and "$30.00" in s4["evidence"]
    bad = runner.invoke(app, ["audit", str(email), "--lang", "en", "--compare", "sms"])
    assert bad.exit_code != 0 and "FORM=FILE" in bad.output
    missing = runner.invoke(
        app, ["audit", str(email), "--lang", "en", "--compare", f"sms={tmp_path / 'nope'}"]
    )
    assert missing.exit_code != 0 and "nope" in missing.output


@pytest.mark.parametrize("lang", ["en", "es"])
def test_s1_finds_the_signature_above_a_block_of_links(lang: str) -> None:
    """A rating block (a question, then one link per point) may follow the sign-off."""
    question = {
        "en": "How well did we handle this? One click tells us:",
        "es": "¿Cómo hemos gestionado esta incidencia? Díganoslo con un clic:",
    }[lang]
    links = "\n".join(f"- {n} · x: https://status.example/rate/abc/{n}" for n in range(1, 6))
    text = f"{BODY[lang]}\n\n{SIGNED[lang][0]}\n\n{question}\n{links}\n"
    assert audit(text, lang).finding("S1").verdict is Verdict.passed
