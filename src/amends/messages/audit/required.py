"""Rules for what an apology (or a breach notice) must contain: A1–A6 and S5."""

from __future__ import annotations

from amends.facts.kinds import Exposure
from amends.messages.audit.draft import APOLOGY, BREACH, OWNING_KINDS, Draft, passed, quote
from amends.messages.audit.report import Finding, Verdict

# -- what an apology must contain -----------------------------------------------------


def responsibility(d: Draft) -> Finding | None:
    title, basis = "Responsibility owned, with us as the agent", "Lewicki et al. 2016 #1; Kim 2004"
    if d.kind not in OWNING_KINDS:
        return None
    found = d.first("responsibility")
    if found:
        return passed("A1", title, found, basis)
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
    title, basis = "An expression of regret", "Lewicki; GoDaddy step 1; Roschk & Kaiser 2013"
    if d.kind not in OWNING_KINDS:
        return None
    found = d.first("regret")
    if found:
        return passed("A3", title, found, basis)
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
        return passed("A4", title, found, basis)
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
        return passed("A5", title, found, basis)
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
        return passed("A6", title, found, basis)
    return Finding(
        "A6",
        title,
        Verdict.info,
        "missing: no closing line (optional)",
        "Optionally close by thanking them for the chance to win back their trust."
        + d.example("A6"),
        basis,
    )


def instructions(d: Draft) -> Finding | None:
    title, basis = "What the customer must do, when data was exposed", "SCCT; GDPR 34; §4.3"
    if d.facts.exposure is not Exposure.confirmed and d.kind != BREACH:
        return None
    found = d.first("breach_steps")
    if found:
        return passed("S5", title, found, basis)
    return Finding(
        "S5",
        title,
        Verdict.block,
        "missing: no concrete step for the customer",
        "Say exactly what to do for each kind of data exposed." + d.example("S5"),
        basis,
    )


def empathy(d: Draft) -> Finding | None:
    title, basis = "The customer's own impact named", "Roschk & Kaiser 2013 (empathy); §3.4 S2"
    if d.kind != APOLOGY:
        return None
    found = d.first("impact")
    if found:
        return passed("S2", title, found, basis)
    return Finding(
        "S2",
        title,
        Verdict.warn,
        "missing: no sentence names what happened to their sites, e-mail or service",
        "Say what they lived through: 'your site and e-mail were unreachable for six hours'.",
        basis,
    )


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
