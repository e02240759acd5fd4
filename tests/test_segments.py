"""The SMS segment counter the composer fits its SMS with (GSM 03.38 / UCS-2).

The providers branch may bring its own counter in delivery/channels/sms.py; this
one lives in messages because messages must not import delivery.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amends.messages import segments

GSM_TEXT = st.text(alphabet=sorted(segments.GSM7_BASIC | segments.GSM7_EXTENSION), max_size=800)


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters count twice
        ("€" * 81, "GSM-7", 2),
        ("ñÑüéà¿¡", "GSM-7", 1),  # in the GSM alphabet
        ("á" * 70, "UCS-2", 1),  # Spanish á, í, ó, ú are not
        ("á" * 71, "UCS-2", 2),
        ("á" * 134, "UCS-2", 2),
        ("á" * 135, "UCS-2", 3),
        ("😀" * 35, "UCS-2", 1),  # a surrogate pair is two units
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_boundaries(text: str, encoding: str, count: int) -> None:
    assert segments.encoding(text) == encoding
    assert segments.segments(text) == count


@given(GSM_TEXT)
def test_gsm_counts(text: str) -> None:
    units = sum(2 if c in segments.GSM7_EXTENSION else 1 for c in text)
    expected = 0 if not units else 1 if units <= 160 else math.ceil(units / 153)
    assert segments.encoding(text) == "GSM-7"
    assert segments.segments(text) == expected


@given(GSM_TEXT, st.sampled_from("áíóúÁ€😀中"))
def test_one_foreign_character_switches_the_whole_text(text: str, extra: str) -> None:
    mixed = text + extra
    if extra == "€":
        return
    assert segments.encoding(mixed) == "UCS-2"
    units = len(mixed.encode("utf-16-le")) // 2
    assert segments.segments(mixed) == (1 if units <= 70 else math.ceil(units / 67))
