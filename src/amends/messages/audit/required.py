"""Rules for what an apology (or a breach notice) must contain: A1–A6, S1, S2, S3, S5."""

from __future__ import annotations

import re

from amends.facts.kinds import Exposure
from amends.messages.audit.draft import APOLOGY, BREACH, OWNING_KINDS, Draft, passed, quote
from amends.messages.audit.report import Finding, Verdict
from amends.messages.audit.text import Sentence

# -- what an apology must contain -----------------------------------------------------


def _present_or(
    d: Draft,
    rule: str,
    title: str,
    basis: str,
    *,
    element: str,
    verdict: Verdict,
    missing: str,
    fix: str,
    example: bool = True,
) -> Finding:
    """Most rules ask for one element: its first sentence passes the rule; when
    no sentence carries it, the rule gives ``verdict``, with a fix and, where
    the lexicon has one, an example sentence in the draft's language."""
    found = d.first(element)
    if found:
        return passed(rule, title, found, basis)
    return Finding(
        rule,
        title,
        verdict,
        f"missing: {missing}",
        fix + (d.example(rule) if example else ""),
        basis,
    )


def responsibility(d: Draft) -> Finding | None:
    if d.kind not in OWNING_KINDS:
        return None
    return _present_or(
        d, "A1", "Responsibility owned, with us as the agent",
        "Lewicki et al. 2016 #1; Kim 2004", element="responsibility", verdict=Verdict.block,
        missing="no sentence where we own the failure",
        fix="Say in the first person that we caused the failure.",
    )  # fmt: skip


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
        return passed("A2", title, concrete[0], basis)
    fix = "Give the amount or months, which sites, when it is available and how it is applied."
    fix += d.example("A2")
    if offers:
        missing = "no amount" if not concrete else "no way to get it (automatic, button, link)"
        return Finding(
            "A2",
            title,
            Verdict.warn,
            f"{quote(offers[0])} — {missing}",
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
            f"only a corrective action is offered: {quote(corrective)}",
            "Allowed only if the credit policy gives nothing for this incident. " + fix,
            basis,
            corrective.index,
        )
    return Finding(
        "A2", title, Verdict.block, "missing: no compensation or repair offered", fix, basis
    )


def regret(d: Draft) -> Finding | None:
    if d.kind not in OWNING_KINDS:
        return None
    return _present_or(
        d, "A3", "An expression of regret", "Lewicki; GoDaddy step 1; Roschk & Kaiser 2013",
        element="regret", verdict=Verdict.block, missing="no apology in the message",
        fix="Say sorry, plainly.",
    )  # fmt: skip


def explanation(d: Draft) -> Finding | None:
    if d.kind not in OWNING_KINDS:
        return None
    return _present_or(
        d, "A4", "The cause explained in plain words", "Lewicki; GoDaddy step 3; GDPR Art. 34(2)",
        element="cause", verdict=Verdict.warn, missing="no sentence says why it happened",
        fix="Explain the cause in one or two plain sentences.",
    )  # fmt: skip


def prevention(d: Draft) -> Finding | None:
    if d.kind != APOLOGY:
        return None
    return _present_or(
        d, "A5", "Concrete steps so it does not recur", "Lewicki; GoDaddy step 5; SCCT",
        element="corrective", verdict=Verdict.warn,
        missing="no corrective or preventive measure",
        fix="Name at least one measure taken or planned.",
    )  # fmt: skip


def forgiveness(d: Draft) -> Finding | None:
    if d.kind != APOLOGY:
        return None
    return _present_or(
        d, "A6", "A closing that asks to win back trust (optional)", "Lewicki (least important)",
        element="closing", verdict=Verdict.info, missing="no closing line (optional)",
        fix="Optionally close by thanking them for the chance to win back their trust.",
    )  # fmt: skip


def instructions(d: Draft) -> Finding | None:
    if d.facts.exposure is not Exposure.confirmed and d.kind != BREACH:
        return None
    return _present_or(
        d, "S5", "What the customer must do, when data was exposed", "SCCT; GDPR 34; §4.3",
        element="breach_steps", verdict=Verdict.block,
        missing="no concrete step for the customer",
        fix="Say exactly what to do for each kind of data exposed.",
    )  # fmt: skip


def empathy(d: Draft) -> Finding | None:
    if d.kind != APOLOGY:
        return None
    return _present_or(
        d, "S2", "The customer's own impact named", "Roschk & Kaiser 2013 (empathy); §3.4 S2",
        element="impact", verdict=Verdict.warn,
        missing="no sentence names what happened to their sites, e-mail or service",
        fix="Say what they lived through: 'your site and e-mail were unreachable for six hours'.",
        example=False,
    )  # fmt: skip


#: Plain language (GDPR Art. 34(2); Statuspage tip 3): average and longest sentence.
MEAN_WORDS, MAX_WORDS = 25, 60


def plain_language(d: Draft) -> Finding | None:
    title, basis = "Plain language: short sentences", "GDPR Art. 34(2); Statuspage tip 3; §3.4 S3"
    if d.kind not in OWNING_KINDS or not d.sentences:
        return None
    counts = [len(s.text.split()) for s in d.sentences]
    mean = sum(counts) / len(counts)
    longest = max(range(len(counts)), key=counts.__getitem__)
    if mean <= MEAN_WORDS and counts[longest] <= MAX_WORDS:
        return passed("S3", title, None, basis, f"{mean:.0f} words a sentence on average")
    sentence = d.sentences[longest]
    return Finding(
        "S3",
        title,
        Verdict.warn,
        f"{mean:.0f} words a sentence on average; longest ({counts[longest]}): {quote(sentence)}",
        f"Keep sentences under {MEAN_WORDS} words on average and none over {MAX_WORDS}.",
        basis,
        sentence.index,
    )


#: Words that start with a capital without naming anyone.
_NOT_A_NAME = frozenset(
    {"The", "El", "La", "Los", "Las", "Our", "Nuestro", "Nuestra", "Team", "Equipo"}
)
_OF_COMPANY = re.compile(r"^\s*(?:of|at|de|en)\s+\S+")
_CAPITALISED = re.compile(r"\b[A-ZÁÉÍÓÚÑ][a-záéíóúñü'-]+\b")
#: The signature is among the last lines that are not links (a rating block or a
#: P.S. of links may follow it), and it is short: a title quoted mid-text is not one.
SIGNATURE_SENTENCES, SIGNATURE_WORDS = 5, 12


def _signature_lines(d: Draft) -> list[Sentence]:
    lines = [s for s in d.sentences if "http" not in s.folded and "www." not in s.folded]
    return [s for s in lines[-SIGNATURE_SENTENCES:] if len(s.text.split()) <= SIGNATURE_WORDS]


def senior_signatory(d: Draft) -> Finding | None:
    """S1: a major incident's apology comes from a senior person, by name — GoDaddy's
    came from its CEO ("show it is serious"). A title alone ("The CEO") or a team
    signature names no one; a title in mid-text is a quote, not a signature."""
    if d.kind != APOLOGY:
        return None
    title, basis = (
        "Signed by a senior, named person",
        "GoDaddy step 2; practitioner advice; §3.4 S1",
    )
    senior = d.lex.pattern("senior")
    for sentence in _signature_lines(d):
        match = senior.search(sentence.folded)
        if match is None:
            continue
        after = _OF_COMPANY.sub("", sentence.text[match.end() :])  # "CEO of Hostia"
        rest = sentence.text[: match.start()] + " " + after
        names = [w for w in _CAPITALISED.findall(rest) if w not in _NOT_A_NAME]
        if names:
            return passed("S1", title, sentence, basis)
    return Finding(
        "S1",
        title,
        Verdict.info,
        "missing: the message is not signed by a senior person by name",
        "For a major incident, sign with a named executive and their title." + d.example("S1"),
        basis,
    )
