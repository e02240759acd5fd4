"""How many SMS segments a text costs, and how to make it fit.

An SMS carries 140 bytes: 160 GSM-7 septets or 70 UCS-2 code units. A longer
text is split into parts that each lose room to the concatenation header:
153 septets or 67 code units. One character outside the GSM 03.38 alphabet
(Spanish á, í, ó, ú, ç — but not é, ñ, ü, ¿, ¡, which GSM has) turns the whole
message into UCS-2 and more than halves its room. Characters of the GSM
extension table (€ [ ] { } ^ ~ | \\ and form feed) take two septets, and a
part never ends between the escape and its character.

The alphabet comes from the ``gsm0338`` codec (the GSM 03.38 tables), not
from a hand-copied list.
"""

from __future__ import annotations

import enum

import gsm0338  # noqa: F401 - registers the "gsm03.38" codec

__all__ = ["Encoding", "count_segments", "encoding_of", "fit_sms", "units"]

SINGLE = {"GSM-7": 160, "UCS-2": 70}
CONCATENATED = {"GSM-7": 153, "UCS-2": 67}


class Encoding(enum.StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


def _gsm_width(char: str) -> int | None:
    """Septets for one character (1, or 2 for the extension table); None if not GSM."""
    try:
        return len(char.encode("gsm03.38"))
    except UnicodeEncodeError:
        return None


def _widths(text: str) -> tuple[Encoding, list[int]]:
    gsm: list[int] = []
    for char in text:
        width = _gsm_width(char)
        if width is None:
            # UTF-16 code units: characters beyond the BMP (emoji) take two.
            return Encoding.UCS2, [2 if ord(c) > 0xFFFF else 1 for c in text]
        gsm.append(width)
    return Encoding.GSM7, gsm


def encoding_of(text: str) -> Encoding:
    """GSM-7 when every character is in GSM 03.38 (basic or extension), else UCS-2."""
    return _widths(text)[0]


def units(text: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text occupies."""
    return sum(_widths(text)[1])


def count_segments(text: str) -> int:
    """Parts a carrier bills for this text (an empty text still costs one)."""
    encoding, widths = _widths(text)
    if sum(widths) <= SINGLE[encoding]:
        return 1
    room = CONCATENATED[encoding]
    parts, used = 1, 0
    for width in widths:  # a two-unit character never straddles two parts
        if used + width > room:
            parts, used = parts + 1, 0
        used += width
    return parts


def fit_sms(text: str, link: str | None = None, *, max_segments: int = 2) -> str:
    """``text`` (then a space and ``link``) cut to fit in ``max_segments`` parts.

    The text is shortened at a word boundary when one is near, marked with an
    ellipsis; the link is never cut, because a broken link is worse than a
    shorter sentence. Raises ValueError when even the link alone does not fit.
    """
    text = text.strip()
    tail = f" {link}" if link else ""

    def fits(candidate: str) -> bool:
        return count_segments(candidate) <= max_segments

    whole = f"{text}{tail}" if text else (link or "")
    if fits(whole):
        return whole
    if link and not fits(link):
        raise ValueError(f"the link alone needs more than {max_segments} SMS segments")

    def candidate(length: int) -> str:
        prefix = text[:length].rstrip()
        if not prefix:
            return link or ""
        ellipsis = "…" if encoding_of(prefix + tail) is Encoding.UCS2 else "..."
        return prefix + ellipsis + tail

    low, high = 0, len(text)  # candidate(low) fits, candidate(high) does not
    while high - low > 1:
        middle = (low + high) // 2
        if fits(candidate(middle)):
            low = middle
        else:
            high = middle
    length = low
    space = text.rfind(" ", 0, length + 1)
    if space > 0 and length - space <= 20:  # end on a whole word when it costs little
        length = space
    result = candidate(length)
    while not fits(result) and length > 0:  # an ellipsis that changed the alphabet
        length -= 1
        result = candidate(length)
    return result
