"""The rule table of domain-research §3.4, one small function per rule.

Each rule reads a :class:`Draft` (the sentences, the lexicon of its language,
the facts) and returns one :class:`Finding`, or ``None`` when it does not apply
to this kind of message (a first notice need not offer a credit). Heuristics,
deliberately: a rule looks for wording in a sentence and quotes that sentence,
so every verdict can be checked by reading the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from amends.facts.kinds import CauseOwner, Exposure
from amends.messages.audit.facts import AuditFacts
from amends.messages.audit.lexicons import Lexicon
from amends.messages.audit.report import Finding, Verdict
from amends.messages.audit.text import Sentence

#: Kinds that must be full apologies (the seven steps) or breach notices.
APOLOGY = "apology"
BREACH = "breach_notice"
OWNING_KINDS = frozenset({APOLOGY, BREACH})

_FIGURE = re.compile(r"(\d{2,3}(?:[.,]\d+)?) ?%")


@dataclass(frozen=True)
class Draft:
    """A message being audited: its sentences, language, kind and the facts."""

    sentences: list[Sentence]
    lex: Lexicon
    kind: str
    facts: AuditFacts

    def find(self, field: str) -> list[Sentence]:
        pattern = self.lex.pattern(field)
        return [s for s in self.sentences if pattern.search(s.folded)]

    def first(self, field: str) -> Sentence | None:
        found = self.find(field)
        return found[0] if found else None

    def example(self, rule: str) -> str:
        text = self.lex.examples.get(rule)
        return f' For example: "{text}"' if text else ""


def _ok(rule: str, title: str, sentence: Sentence | None, basis: str, note: str = "") -> Finding:
    evidence = f'found: "{sentence.text}"' if sentence else note or "nothing to object to"
    return Finding(
        rule, title, Verdict.passed, evidence, basis=basis, sentence=sentence and sentence.index
    )


def _quote(sentence: Sentence) -> str:
    return f'"{sentence.text}"'


# -- what an apology must contain -----------------------------------------------------


def responsibility(d: Draft) -> Finding | None:
    title, basis = "Responsibility owned, with us as the agent", "Lewicki et al. 2016 #1; Kim 2004"
    if d.kind not in OWNING_KINDS:
        return None
    found = d.first("responsibility")
    if found:
        return _ok("A1", title, found, basis)
    fix = "Say in the first person that we caused the failure." + d.example("A1")
    return Finding(
        "A1", title, Verdict.block, "missing: no sentence where we own the failure", fix, basis
    )


def repair(d: Draft) -> Finding | None:
    title = "A concrete offer of repair (what, for whom, when, how)"
    basis = "Lewicki #2; GoDaddy step 6; Roschk & Gelbrich 2014"
    if d.kind != APOLOGY:
        return None
    offers = d.find("repair")
    value = d.lex.pattern("repair_value")
    concrete = [s for s in offers if value.search(s.folded)]
    how = d.first("repair_how")
    if concrete and how:
        return _ok("A2", title, concrete[0], basis)
    fix = "Give the amount or months, which sites, when it is available and how it is applied."
    fix += d.example("A2")
    if offers:
        missing = "no amount" if not concrete else "no way to get it (automatic, button, link)"
        return Finding(
            "A2",
            title,
            Verdict.warn,
            f"{_quote(offers[0])} — {missing}",
            fix,
            basis,
            offers[0].index,
        )
    corrective = d.first("corrective")
    if corrective:
        return Finding(
            "A2",
            title,
            Verdict.warn,
            f"only a corrective action is offered: {_quote(corrective)}",
            "Allowed only if the credit policy gives nothing for this incident. " + fix,
            basis,
            corrective.index,
        )
    return Finding(
        "A2", title, Verdict.block, "missing: no compensation or repair offered", fix, basis
    )


def regret(d: Draft) -> Finding | None:
    title, basis = "An expression of regret", "Lewicki; GoDaddy step 1; Roschk & Kaiser 2013"
    if d.kind not in OWNING_KINDS:
        return None
    found = d.first("regret")
    if found:
        return _ok("A3", title, found, basis)
    return Finding(
        "A3",
        title,
        Verdict.block,
        "missing: no apology in the message",
        "Say sorry, plainly." + d.example("A3"),
        basis,
    )


def explanation(d: Draft) -> Finding | None:
    title, basis = "The cause explained in plain words", "Lewicki; GoDaddy step 3; GDPR Art. 34(2)"
    if d.kind not in OWNING_KINDS:
        return None
    found = d.first("cause")
    if found:
        return _ok("A4", title, found, basis)
    return Finding(
        "A4",
        title,
        Verdict.warn,
        "missing: no sentence says why it happened",
        "Explain the cause in one or two plain sentences." + d.example("A4"),
        basis,
    )


def prevention(d: Draft) -> Finding | None:
    title, basis = "Concrete steps so it does not recur", "Lewicki; GoDaddy step 5; SCCT"
    if d.kind != APOLOGY:
        return None
    found = d.first("corrective")
    if found:
        return _ok("A5", title, found, basis)
    return Finding(
        "A5",
        title,
        Verdict.warn,
        "missing: no corrective or preventive measure",
        "Name at least one measure taken or planned." + d.example("A5"),
        basis,
    )


def forgiveness(d: Draft) -> Finding | None:
    title, basis = "A closing that asks to win back trust (optional)", "Lewicki (least important)"
    if d.kind != APOLOGY:
        return None
    found = d.first("closing")
    if found:
        return _ok("A6", title, found, basis)
    return Finding(
        "A6",
        title,
        Verdict.info,
        "missing: no closing line (optional)",
        "Optionally close by thanking them for the chance to win back their trust."
        + d.example("A6"),
        basis,
    )


# -- what no message may contain ----------------------------------------------------


def agentless_passive(d: Draft) -> Finding:
    title, basis = "No agentless passive for the failure", "Kampf 2009; Lewicki A1"
    found = d.first("passive")
    if not found:
        return _ok("N1", title, None, basis)
    owns = d.first("responsibility") is not None
    verdict = Verdict.block if d.kind in OWNING_KINDS and not owns else Verdict.warn
    return Finding(
        "N1",
        title,
        verdict,
        _quote(found),
        "Name who made the mistake: us." + d.example("N1"),
        basis,
        found.index,
    )


def conditional(d: Draft) -> Finding:
    title, basis = "No conditional or hedged apology", "Kampf 2009; domain-research §3.4 N2"
    fix = "Apologise for what happened to them, without 'if', 'any' or 'may have'."
    fix += d.example("N2")
    found = d.first("conditional")
    if found:
        return Finding("N2", title, Verdict.block, _quote(found), fix, basis, found.index)
    regret_rx, hedge_rx = d.lex.pattern("regret"), d.lex.pattern("hedge")
    hedges = d.find("hedge")
    for sentence in hedges:
        if regret_rx.search(sentence.folded):
            return Finding(
                "N2",
                title,
                Verdict.block,
                f"{_quote(sentence)} — the apology is hedged ('may have')",
                fix,
                basis,
                sentence.index,
            )
    if hedges:
        hedge = hedge_rx.search(hedges[0].folded)
        word = hedge.group(0) if hedge else "a hedge"
        return Finding(
            "N2",
            title,
            Verdict.warn,
            f"{_quote(hedges[0])} — hedge '{word}'",
            "State the impact as a fact, or mark the sentence as preliminary.",
            basis,
            hedges[0].index,
        )
    return _ok("N2", title, None, basis)


def sorry_but(d: Draft) -> Finding:
    title, basis = "No apology undone by 'but'", "Kampf 2009; practitioner advice"
    regret_rx, but_rx = d.lex.pattern("regret"), d.lex.pattern("but")
    fix = "End the apology with a full stop; give the facts without 'but'." + d.example("N3")
    for i, sentence in enumerate(d.sentences):
        said = regret_rx.search(sentence.folded)
        if not said:
            continue
        after = sentence.folded[said.end() :]
        undo = but_rx.search(after)
        if undo and "but also" not in after:
            return Finding("N3", title, Verdict.block, _quote(sentence), fix, basis, sentence.index)
        following = d.sentences[i + 1] if i + 1 < len(d.sentences) else None
        if following and (undo := but_rx.match(following.folded)):
            return Finding(
                "N3",
                title,
                Verdict.warn,
                f"{_quote(sentence)} followed by {_quote(following)}",
                fix,
                basis,
                following.index,
            )
    return _ok("N3", title, None, basis)


def blame(d: Draft) -> Finding:
    title, basis = "No blame shifting", "Statuspage tip 5; SCCT (scapegoating is denial)"
    found = d.first("blame")
    if not found:
        return _ok("N4", title, None, basis)
    owner = d.facts.cause_owner
    if owner is CauseOwner.internal:
        return Finding(
            "N4",
            title,
            Verdict.block,
            f"{_quote(found)} — but the cause was internal",
            "Remove the third party: the cause was ours.",
            basis,
            found.index,
        )
    owned = d.first("responsibility")
    if owner is not None and owned is not None and owned.index <= found.index:
        return _ok("N4", title, found, basis, "")
    why = "after" if owned is None or owner is None else "before"
    note = "the cause owner is not given" if owner is None else f"it comes {why} owning it"
    return Finding(
        "N4",
        title,
        Verdict.warn,
        f"{_quote(found)} — {note}",
        "Own the failure first; name a provider or attacker only as a fact after that.",
        basis,
        found.index,
    )


def minimising(d: Draft) -> Finding:
    title, basis = "No minimising or excuse language", "SCCT (diminish vs rebuild)"
    found = d.first("minimising")
    if not found:
        return _ok("N5", title, None, basis)
    return Finding(
        "N5",
        title,
        Verdict.warn,
        _quote(found),
        "Check the word against the measured duration and share of customers hit; "
        "prefer the figures.",
        basis,
        found.index,
    )


def upsell(d: Draft) -> Finding:
    title, basis = "No marketing, upsell or coupon", "GoDaddy 2012 '30% off' backlash; WP29"
    found = d.first("upsell")
    if not found:
        return _ok("N6", title, None, basis)
    return Finding(
        "N6",
        title,
        Verdict.block,
        _quote(found),
        "Remove the offer: compensation must not require a purchase.",
        basis,
        found.index,
    )


def reassurance(d: Draft) -> Finding:
    title, basis = "Reassurance only when the facts allow", "GoDaddy step 4; GDPR Art. 34; §4.3"
    found = d.first("reassurance")
    if not found:
        return _ok("N7", title, None, basis)
    facts = d.facts
    if facts.exposure is Exposure.none and facts.exposure_signed_off:
        return _ok("N7", title, found, basis)
    if facts.exposure is Exposure.confirmed:
        why, fix = "data exposure is confirmed", "Send the breach notice instead."
    elif facts.exposure is Exposure.none:
        why, fix = "the 'none' assessment is not signed off", "Have a named person sign it off."
    elif facts.exposure is Exposure.under_investigation:
        why, fix = "exposure is still under investigation", "Say it is being investigated."
    else:
        why, fix = "no data-exposure assessment was given", "Give the signed-off assessment."
    return Finding(
        "N7",
        title,
        Verdict.block,
        f"{_quote(found)} — {why}",
        fix + d.example("N7"),
        basis,
        found.index,
    )


def track_record(d: Draft) -> Finding:
    title, basis = "Track record only as a supplement, and true", "SCCT (bolstering); accuracy"
    found = d.first("track_record")
    if not found:
        return _ok("N8", title, None, basis)
    measured = d.facts.measured_availability
    for raw in _FIGURE.findall(found.folded):
        claimed = Decimal(raw.replace(",", "."))
        exponent = claimed.as_tuple().exponent
        assert isinstance(exponent, int)
        if (
            measured is not None
            and measured.quantize(Decimal(1).scaleb(exponent), ROUND_FLOOR) < claimed
        ):
            return Finding(
                "N8",
                title,
                Verdict.block,
                f"{_quote(found)} — claims {claimed}%, measured {measured}%",
                "Quote the measured figure (or leave the track record out).",
                basis,
                found.index,
            )
        if measured is None:
            return Finding(
                "N8",
                title,
                Verdict.warn,
                f"{_quote(found)} — {claimed}% cannot be checked: no measured figure",
                "Give the measured availability so the claim can be checked.",
                basis,
                found.index,
            )
    owned = [d.first("responsibility"), d.first("regret")]
    if d.kind in OWNING_KINDS and any(s is None or s.index > found.index for s in owned):
        return Finding(
            "N8",
            title,
            Verdict.warn,
            f"{_quote(found)} — comes before we own the failure and apologise",
            "Move the track record after the apology and the ownership.",
            basis,
            found.index,
        )
    return _ok("N8", title, found, basis)


def instructions(d: Draft) -> Finding | None:
    title, basis = "What the customer must do, when data was exposed", "SCCT; GDPR 34; §4.3"
    if d.facts.exposure is not Exposure.confirmed and d.kind != BREACH:
        return None
    found = d.first("breach_steps")
    if found:
        return _ok("S5", title, found, basis)
    return Finding(
        "S5",
        title,
        Verdict.block,
        "missing: no concrete step for the customer",
        "Say exactly what to do for each kind of data exposed." + d.example("S5"),
        basis,
    )


RULES: tuple[Callable[[Draft], Finding | None], ...] = (
    responsibility,
    repair,
    regret,
    explanation,
    prevention,
    forgiveness,
    agentless_passive,
    conditional,
    sorry_but,
    blame,
    minimising,
    upsell,
    reassurance,
    track_record,
    instructions,
)
