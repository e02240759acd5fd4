"""What the auditor found: one finding per rule, the seven steps, the five practices.

A finding is explainable on its own: the rule, the verdict, the sentence that
triggered it (or what is missing), a fix and the research it rests on. The
report is plain data so the CLI, the API and the composer read the same thing.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


class Verdict(enum.StrEnum):
    """Ordered: ``block`` stops sending, ``warn`` needs a human look."""

    passed = "pass"
    info = "info"
    warn = "warn"
    block = "block"

    @property
    def rank(self) -> int:
        return list(Verdict).index(self)


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    title: str
    verdict: Verdict
    evidence: str
    fix: str = ""
    basis: str = ""
    sentence: int | None = None  # index of the sentence quoted in evidence


@dataclass(frozen=True, slots=True)
class Step:
    """One of the seven steps of the 2012 apology: found (with the sentence) or missing."""

    number: int
    name: str
    present: bool
    evidence: str


@dataclass(frozen=True, slots=True)
class Practice:
    """One of the five practices, judged by the worst verdict of the rules behind it."""

    number: int
    name: str
    verdict: Verdict
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    lang: str
    kind: str
    findings: Sequence[Finding]
    steps: Sequence[Step] = field(default_factory=tuple)
    practices: Sequence[Practice] = field(default_factory=tuple)

    @property
    def blocked(self) -> bool:
        """True when at least one rule blocks: the message must not go out as it is."""
        return any(f.verdict is Verdict.block for f in self.findings)

    @property
    def worst(self) -> Verdict:
        return max((f.verdict for f in self.findings), key=lambda v: v.rank, default=Verdict.passed)

    def finding(self, rule: str) -> Finding:
        """The finding of one rule (KeyError when the rule did not apply to this kind)."""
        for found in self.findings:
            if found.rule == rule:
                return found
        raise KeyError(rule)

    def verdicts(self) -> dict[str, Verdict]:
        return {f.rule: f.verdict for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        """The shape of ``amends audit --json`` and ``POST /api/v1/audit``."""
        return {
            "lang": self.lang,
            "kind": self.kind,
            "blocked": self.blocked,
            "worst": self.worst.value,
            "findings": [asdict(f) | {"verdict": f.verdict.value} for f in self.findings],
            "steps": [asdict(s) for s in self.steps],
            "practices": [
                asdict(p) | {"verdict": p.verdict.value, "rules": list(p.rules)}
                for p in self.practices
            ],
        }
