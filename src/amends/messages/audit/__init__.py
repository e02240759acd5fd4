"""The apology auditor: checks any message against the seven steps, the five
practices and the rule table of domain-research §3.4.

    report = audit(text, "es", kind="apology", facts=AuditFacts(...))
    report.blocked      # True → must not be sent as it is
    report.findings     # one per rule: verdict, evidence, fix, basis
    report.steps        # the seven steps, each present (with its sentence) or missing

Deterministic: the same text, language and facts always give the same report.
"""

from __future__ import annotations

from collections.abc import Mapping

from amends.messages.audit.consistency import consistent
from amends.messages.audit.facts import NO_FACTS, AuditFacts
from amends.messages.audit.lexicons import lexicon
from amends.messages.audit.report import Finding, Practice, Report, Step, Verdict
from amends.messages.audit.rules import APOLOGY, RULES, Draft
from amends.messages.audit.text import sentences

__all__ = ["KINDS", "AuditFacts", "Finding", "Practice", "Report", "Step", "Verdict", "audit"]

#: apology and breach_notice get the full checks; every other kind (first
#: notice, update, SMS, …) only the "never say this" rules.
KINDS = ("apology", "breach_notice", "notice")

#: (number, name, lexicon fields any of which shows the step)
SEVEN_STEPS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "Admit the failure", ("regret", "responsibility")),
    (2, "Show that it is serious", ("serious",)),
    (3, "Explain why it happened", ("cause",)),
    (4, "Reassure (or say what to do)", ("reassurance", "investigating", "breach_steps")),
    (5, "Track record and what we learned", ("learning", "track_record")),
    (6, "Compensate", ("repair",)),
    (7, "Do not sweep it under the rug", ("closing",)),
)

FIVE_PRACTICES: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "Alert early and often", ()),
    (2, "Apologise", ("A3", "N2", "N3")),
    (3, "Explain the situation", ("A4", "N1", "N4")),
    (4, "Care about their interests", ("N7", "S5")),
    (5, "Give money back", ("A2", "N6")),
)


def _steps(draft: Draft) -> tuple[Step, ...]:
    steps = []
    for number, name, fields in SEVEN_STEPS:
        hits = [s for f in fields for s in draft.find(f)]
        first = min(hits, key=lambda s: s.index) if hits else None
        evidence = f'"{first.text}"' if first else "missing"
        steps.append(Step(number, name, first is not None, evidence))
    return tuple(steps)


def _steps_finding(steps: tuple[Step, ...]) -> Finding:
    missing = [f"{s.number}. {s.name}" for s in steps if not s.present]
    title = "The seven steps of the 2012 apology"
    basis = "SEEDS.md (GoDaddy 2012); Lewicki et al. 2016"
    if not missing:
        return Finding("STEPS", title, Verdict.passed, "all seven steps found", basis=basis)
    return Finding(
        "STEPS",
        title,
        Verdict.warn,
        "missing: " + "; ".join(missing),
        "Add the missing steps (the composer writes each as a block).",
        basis,
    )


def _practices(findings: list[Finding]) -> tuple[Practice, ...]:
    verdicts = {f.rule: f.verdict for f in findings}
    result = []
    for number, name, rules in FIVE_PRACTICES:
        seen = [verdicts[r] for r in rules if r in verdicts]
        worst = max(seen, key=lambda v: v.rank) if seen else Verdict.info
        result.append(Practice(number, name, worst, rules))
    return tuple(result)


def audit(
    text: str,
    lang: str,
    *,
    kind: str = APOLOGY,
    facts: AuditFacts = NO_FACTS,
    forms: Mapping[str, str] | None = None,
) -> Report:
    """Judge ``text`` (in ``lang``) as a message of ``kind`` against the rules.

    ``forms`` are the same message's other forms (``{"sms": …, "voice": …}``):
    with them, rule S4 checks that they state no figure the full text does not.
    Practice 1 ("alert early and often") is about timing, not wording: it is
    reported as ``info`` here and judged by the cadence.
    """
    if kind not in KINDS:
        from amends.errors import ValidationFailed

        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", field="kind")
    lex = lexicon(lang)
    draft = Draft(sentences(text), lex, kind, facts)
    findings = [f for rule in RULES if (f := rule(draft)) is not None]
    steps: tuple[Step, ...] = ()
    if kind == APOLOGY:
        steps = _steps(draft)
        findings.append(_steps_finding(steps))
    if forms:
        findings.append(consistent({"message": text, **forms}, reference="message"))
    return Report(lex.lang, kind, tuple(findings), steps, _practices(findings))
