"""Sentences and the folded form the lexicons match against.

Rules quote evidence sentence by sentence, so the splitter decides what an
operator sees as "the sentence found". Matching happens on a *folded* copy —
lower case, accents removed, typographic quotes made plain — so one lexicon
entry ("disculpas") matches "Disculpas", "DISCULPAS" and a draft typed without
accents alike; the evidence shown is always the original sentence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# A sentence ends at . ! ? … (possibly followed by closing quotes/brackets) and
# whitespace; a blank line or a list bullet always ends one. Decimal points
# ("99.999%") and domains ("GoDaddy.com") have no whitespace after the dot.
_BREAK = re.compile(r"(?<=[.!?…])[\"'”’»)\]]*\s+(?=[\"'“‘«(¿¡]?[A-ZÁÉÍÓÚÑ0-9])")
_BLOCK = re.compile(r"\n\s*\n|\n\s*(?:[-*•]|\d+[.)])\s+")
_QUOTES = str.maketrans({"“": '"', "”": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "´": "'"})
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence: its position, its text as written and its folded form."""

    index: int
    text: str
    folded: str


def fold(text: str) -> str:
    """Lower case without accents: 'Pedimos DISCULPAS, perdón' → 'pedimos disculpas, perdon'."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACE.sub(" ", plain.casefold()).strip()


def sentences(text: str) -> list[Sentence]:
    """Split a message into sentences (paragraphs and list items first)."""
    found: list[Sentence] = []
    for block in _BLOCK.split(text):
        flat = _SPACE.sub(" ", block).strip()
        if not flat:
            continue
        for piece in _BREAK.split(flat):
            piece = piece.strip().strip('"“”«»').strip()
            if piece:
                found.append(Sentence(len(found), piece, fold(piece)))
    return found
