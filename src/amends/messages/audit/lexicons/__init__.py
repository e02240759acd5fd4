"""Word lists per language, as regular expressions over *folded* text.

Folded text is lower case without accents (see :func:`..text.fold`), so an
entry is written without accents and matches every spelling. Each field is a
list of alternatives; :class:`Lexicon` compiles them once. Adding a language is
adding a module here with the same fields — no rule changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def _rx(parts: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


@dataclass(frozen=True)
class Lexicon:
    """What each rule looks for in one language, plus example wording for fixes."""

    lang: str
    regret: tuple[str, ...]
    responsibility: tuple[str, ...]
    serious: tuple[str, ...]
    cause: tuple[str, ...]
    corrective: tuple[str, ...]
    learning: tuple[str, ...]
    closing: tuple[str, ...]
    repair: tuple[str, ...]
    repair_value: tuple[str, ...]
    repair_how: tuple[str, ...]
    conditional: tuple[str, ...]
    hedge: tuple[str, ...]
    passive: tuple[str, ...]
    but: tuple[str, ...]
    blame: tuple[str, ...]
    minimising: tuple[str, ...]
    upsell: tuple[str, ...]
    reassurance: tuple[str, ...]
    investigating: tuple[str, ...]
    breach_steps: tuple[str, ...]
    track_record: tuple[str, ...]
    impact: tuple[str, ...]
    senior: tuple[str, ...]  # titles of a senior signatory (rule S1)
    examples: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        compiled = {
            name: _rx(getattr(self, name))
            for name in self.__dataclass_fields__
            if name not in ("lang", "examples")
        }
        object.__setattr__(self, "_compiled", compiled)

    def pattern(self, name: str) -> re.Pattern[str]:
        """The compiled alternation for one field."""
        compiled: dict[str, re.Pattern[str]] = self.__dict__["_compiled"]
        return compiled[name]


def lexicon(lang: str) -> Lexicon:
    """The lexicon for ``lang`` ('es', 'es-MX', 'en_GB' → its base language)."""
    from amends.errors import ValidationFailed
    from amends.messages.audit.lexicons import en, es

    base = lang.replace("_", "-").split("-")[0].lower()
    known = {"en": en.LEXICON, "es": es.LEXICON}
    if base not in known:
        raise ValidationFailed(
            f"no audit lexicon for language {lang!r} (known: {', '.join(sorted(known))})",
            field="lang",
        )
    return known[base]
