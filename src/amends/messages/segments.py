"""How many SMS segments a text takes (GSM 03.38 / 3GPP TS 23.038).

A text that uses only the GSM-7 alphabet travels at 160 characters in one
segment, 153 per segment when concatenated; characters of the extension table
(€ [ ] { } ^ ~ | \\) count twice. Any other character (á í ó ú, emoji) sends the
whole text as UCS-2: 70 in one segment, 67 per segment concatenated, counted
in UTF-16 code units. Small enough to keep here: the composer must fit its SMS
before anything is queued, and messages do not import delivery.
"""

from __future__ import annotations

import math

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


def encoding(text: str) -> str:
    """'GSM-7' when every character fits the GSM alphabet, else 'UCS-2'."""
    ok = all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)
    return "GSM-7" if ok else "UCS-2"


def units(text: str) -> int:
    """Length in the encoding's units (septets, or UTF-16 code units)."""
    if encoding(text) == "GSM-7":
        return sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """Segments needed to send ``text`` (0 for an empty text)."""
    n = units(text)
    single, multi = (160, 153) if encoding(text) == "GSM-7" else (70, 67)
    if n <= single:
        return 1 if n else 0
    return math.ceil(n / multi)
