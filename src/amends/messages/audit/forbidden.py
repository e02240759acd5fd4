"""Rules for what no message may contain: N1–N8."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from amends.facts.kinds import CauseOwner, Exposure
from amends.messages.audit.draft import FIGURE, OWNING_KINDS, Draft, passed, quote
from amends.messages.audit.report import Finding, Verdict

# -- what no message may contain ----------------------------------------------------


def _absent_or(
    d: Draft, rule: str, title: str, basis: str, *, element: str, verdict: Verdict, fix: str
) -> Finding:
    """Most of these rules forbid one element: a draft without it passes; the
    first sentence carrying it is the evidence for ``verdict``."""
    found = d.first(element)
    if not found:
        return passed(rule, title, None, basis)
    return Finding(rule, title, verdict, quote(found), fix, basis, found.index)


def agentless_passive(d: Draft) -> Finding:
    owns = d.first("responsibility") is not None
    return _absent_or(
        d, "N1", "No agentless passive for the failure", "Kampf 2009; Lewicki A1",
        element="passive",
        verdict=Verdict.block if d.kind in OWNING_KINDS and not owns else Verdict.warn,
        fix="Name who made the mistake: us." + d.example("N1"),
    )  # fmt: skip


def conditional(d: Draft) -> Finding:
    title, basis = "No conditional or hedged apology", "Kampf 2009; domain-research §3.4 N2"
    fix = "Apologise for what happened to them, without 'if', 'any' or 'may have'."
    fix += d.example("N2")
    found = d.first("conditional")
    if found:
        return Finding("N2", title, Verdict.block, quote(found), fix, basis, found.index)
    regret_rx, hedge_rx = d.lex.pattern("regret"), d.lex.pattern("hedge")
    hedges = d.find("hedge")
    for sentence in hedges:
        if regret_rx.search(sentence.folded):
            return Finding(
                "N2",
                title,
                Verdict.block,
                f"{quote(sentence)} — the apology is hedged ('may have')",
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
            f"{quote(hedges[0])} — hedge '{word}'",
            "State the impact as a fact, or mark the sentence as preliminary.",
            basis,
            hedges[0].index,
        )
    return passed("N2", title, None, basis)


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
            return Finding("N3", title, Verdict.block, quote(sentence), fix, basis, sentence.index)
        following = d.sentences[i + 1] if i + 1 < len(d.sentences) else None
        if following and (undo := but_rx.match(following.folded)):
            return Finding(
                "N3",
                title,
                Verdict.warn,
                f"{quote(sentence)} followed by {quote(following)}",
                fix,
                basis,
                following.index,
            )
    return passed("N3", title, None, basis)


def blame(d: Draft) -> Finding:
    title, basis = "No blame shifting", "Statuspage tip 5; SCCT (scapegoating is denial)"
    found = d.first("blame")
    if not found:
        return passed("N4", title, None, basis)
    owner = d.facts.cause_owner
    if owner is CauseOwner.internal:
        return Finding(
            "N4",
            title,
            Verdict.block,
            f"{quote(found)} — but the cause was internal",
            "Remove the third party: the cause was ours.",
            basis,
            found.index,
        )
    owned = d.first("responsibility")
    if owner is not None and owned is not None and owned.index <= found.index:
        return passed("N4", title, found, basis, "")
    why = "after" if owned is None or owner is None else "before"
    note = "the cause owner is not given" if owner is None else f"it comes {why} owning it"
    return Finding(
        "N4",
        title,
        Verdict.warn,
        f"{quote(found)} — {note}",
        "Own the failure first; name a provider or attacker only as a fact after that.",
        basis,
        found.index,
    )


def minimising(d: Draft) -> Finding:
    return _absent_or(
        d, "N5", "No minimising or excuse language", "SCCT (diminish vs rebuild)",
        element="minimising", verdict=Verdict.warn,
        fix="Check the word against the measured duration and share of customers hit; "
        "prefer the figures.",
    )  # fmt: skip


def upsell(d: Draft) -> Finding:
    return _absent_or(
        d, "N6", "No marketing, upsell or coupon", "GoDaddy 2012 '30% off' backlash; WP29",
        element="upsell", verdict=Verdict.block,
        fix="Remove the offer: compensation must not require a purchase.",
    )  # fmt: skip


def reassurance(d: Draft) -> Finding:
    title, basis = "Reassurance only when the facts allow", "GoDaddy step 4; GDPR Art. 34; §4.3"
    found = d.first("reassurance")
    if not found:
        return passed("N7", title, None, basis)
    facts = d.facts
    if facts.exposure is Exposure.none and facts.exposure_signed_off:
        return passed("N7", title, found, basis)
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
        f"{quote(found)} — {why}",
        fix + d.example("N7"),
        basis,
        found.index,
    )


def track_record(d: Draft) -> Finding:
    title, basis = "Track record only as a supplement, and true", "SCCT (bolstering); accuracy"
    found = d.first("track_record")
    if not found:
        return passed("N8", title, None, basis)
    measured = d.facts.measured_availability
    for raw in FIGURE.findall(found.folded):
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
                f"{quote(found)} — claims {claimed}%, measured {measured}%",
                "Quote the measured figure (or leave the track record out).",
                basis,
                found.index,
            )
        if measured is None:
            return Finding(
                "N8",
                title,
                Verdict.warn,
                f"{quote(found)} — {claimed}% cannot be checked: no measured figure",
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
            f"{quote(found)} — comes before we own the failure and apologise",
            "Move the track record after the apology and the ownership.",
            basis,
            found.index,
        )
    return passed("N8", title, found, basis)
