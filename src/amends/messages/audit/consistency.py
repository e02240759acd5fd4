"""Rule S4: the same facts on every channel.

A customer who reads "$25.98" in the SMS and "$30.00" in the e-mail trusts
neither (Statuspage tip 4; Coombs on consistency). The e-mail is the full
message, so it is the reference: every figure a shorter form states — an
amount of money, a percentage, a clock time — must also be in the e-mail.
A shorter form may leave figures out; it may not state a different one.

Only figures are compared: wording legitimately differs between a 160-char
SMS and a voice script, figures never should.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from amends.messages.audit.report import Finding, Verdict

TITLE = "The same facts on every channel"
BASIS = "Statuspage tip 4; Coombs (consistency); §3.4 S4"

_NUMBER = r"\d(?:[\d.,\u00a0\u202f]*\d)?"
_CURRENCY = r"[$€£¥₹]|\b[A-Z]{1,3}\$|\b(?:EUR|USD|GBP|MXN|ARS|COP|CLP|PEN|BRL|CAD|AUD|CHF)\b"
FIGURES: dict[str, re.Pattern[str]] = {
    "amount": re.compile(
        rf"(?:(?:{_CURRENCY})[\s\u00a0]?{_NUMBER})|(?:{_NUMBER}[\s\u00a0]?(?:{_CURRENCY}))"
    ),
    "percentage": re.compile(rf"{_NUMBER}[\s\u00a0\u202f]?%"),
    "time": re.compile(r"\b\d{1,2}:\d{2}\b"),
}
_BLANKS = re.compile(r"[\s\u00a0\u202f]+")


def figures(text: str) -> dict[str, set[str]]:
    """Each kind of figure the text states, spaces normalised ("25,98 US$")."""
    return {
        kind: {_BLANKS.sub(" ", m.group(0)).strip() for m in pattern.finditer(text)}
        for kind, pattern in FIGURES.items()
    }


def consistent(texts: Mapping[str, str], *, reference: str = "email") -> Finding:
    """Judge the forms of one message (``{"email": …, "sms": …, "voice": …}``).

    ``reference`` names the full form; when absent, the longest text is it.
    """
    if len(texts) < 2:
        return Finding(
            "S4", TITLE, Verdict.info, "only one form given: nothing to compare", basis=BASIS
        )
    ref = reference if reference in texts else max(texts, key=lambda k: len(texts[k]))
    known = figures(texts[ref])
    conflicts = []
    for form, text in texts.items():
        if form == ref:
            continue
        for kind, values in figures(text).items():
            for value in sorted(values - known[kind]):
                said = ", ".join(sorted(known[kind])) or "none"
                conflicts.append(f"{form} says {kind} {value!r}; the {ref} says {said}")
    if not conflicts:
        forms = ", ".join(texts)
        return Finding("S4", TITLE, Verdict.passed, f"the same figures in {forms}", basis=BASIS)
    return Finding(
        "S4",
        TITLE,
        Verdict.warn,
        "; ".join(conflicts),
        f"State the same amounts, percentages and times in every form as in the {ref}.",
        BASIS,
    )
