"""What every rule reads: the draft (sentences, lexicon, kind, facts) and helpers.

The rules themselves are in :mod:`.required` (what an apology must contain) and
:mod:`.forbidden` (what no message may contain); :mod:`.rules` lists them.

Originally: the rule table of domain-research §3.4, one small function per rule.

Each rule reads a :class:`Draft` (the sentences, the lexicon of its language,
the facts) and returns one :class:`Finding`, or ``None`` when it does not apply
to this kind of message (a first notice need not offer a credit). Heuristics,
deliberately: a rule looks for wording in a sentence and quotes that sentence,
so every verdict can be checked by reading the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from amends.messages.audit.facts import AuditFacts
from amends.messages.audit.lexicons import Lexicon
from amends.messages.audit.report import Finding, Verdict
from amends.messages.audit.text import Sentence

#: Kinds that must be full apologies (the seven steps) or breach notices.
APOLOGY = "apology"
BREACH = "breach_notice"
OWNING_KINDS = frozenset({APOLOGY, BREACH})

FIGURE = re.compile(r"(\d{2,3}(?:[.,]\d+)?) ?%")


@dataclass(frozen=True)
class Draft:
    """A message being audited: its sentences, language, kind and the facts."""

    sentences: list[Sentence]
    lex: Lexicon
    kind: str
    facts: AuditFacts
    _found: dict[str, list[Sentence]] = field(default_factory=dict, repr=False, compare=False)

    def find(self, name: str) -> list[Sentence]:
        """Sentences matching a lexicon field (each field is searched once per draft)."""
        if name not in self._found:
            pattern = self.lex.pattern(name)
            self._found[name] = [s for s in self.sentences if pattern.search(s.folded)]
        return self._found[name]

    def first(self, name: str) -> Sentence | None:
        found = self.find(name)
        return found[0] if found else None

    def example(self, rule: str) -> str:
        text = self.lex.examples.get(rule)
        return f' For example: "{text}"' if text else ""


def passed(rule: str, title: str, sentence: Sentence | None, basis: str, note: str = "") -> Finding:
    evidence = f'found: "{sentence.text}"' if sentence else note or "nothing to object to"
    return Finding(
        rule, title, Verdict.passed, evidence, basis=basis, sentence=sentence and sentence.index
    )


def quote(sentence: Sentence) -> str:
    return f'"{sentence.text}"'
