"""SMS segment counting (GSM-7 versus UCS-2) and fitting into two parts."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amends.messages.segments import Encoding, count_segments, encoding_of, fit_sms, units

# GSM 03.38 basic table, without the escape (typed here from the standard as a
# second source beside the gsm0338 codec the code uses).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "^{}\\[~]|€\f"
NOT_GSM = "áíóúçÁÍÓÚâêîôûãõ`😀"

gsm_text = st.text(alphabet=GSM_BASIC, max_size=600)
ucs_text = st.text(alphabet=st.characters(min_codepoint=0x100, max_codepoint=0xD7FF), max_size=300)
any_text = st.text(alphabet=GSM_BASIC + GSM_EXTENSION + NOT_GSM, max_size=500)
link = st.from_regex(r"https://status\.example\.com/[a-z0-9]{1,30}", fullmatch=True)


@pytest.mark.parametrize(
    ("char", "encoding"),
    [
        ("é", Encoding.GSM7), ("ñ", Encoding.GSM7), ("Ñ", Encoding.GSM7), ("ü", Encoding.GSM7),
        ("¿", Encoding.GSM7), ("¡", Encoding.GSM7), ("à", Encoding.GSM7), ("€", Encoding.GSM7),
        ("á", Encoding.UCS2), ("í", Encoding.UCS2), ("ó", Encoding.UCS2), ("ú", Encoding.UCS2),
        ("😀", Encoding.UCS2),
    ],
)  # fmt: skip
def test_spanish_letters_and_the_gsm_alphabet(char: str, encoding: Encoding) -> None:
    assert encoding_of(f"Hola {char}") is encoding


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1), ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
        ("€" * 80, 1), ("€" * 81, 2), ("a" * 159 + "€", 2),
        ("a" * 152 + "€" + "a" * 152, 3),  # € never splits from its escape
        ("á" * 70, 1), ("á" * 71, 2), ("á" * 134, 2), ("á" * 135, 3),
        ("😀" * 35, 1), ("😀" * 36, 2), ("a" * 66 + "😀" + "a" * 66, 3),
    ],
)  # fmt: skip
def test_segment_boundaries(text: str, segments: int) -> None:
    assert count_segments(text) == segments


@given(gsm_text)
def test_gsm_basic_text_counts_160_then_153(text: str) -> None:
    n = len(text)
    assert count_segments(text) == (1 if n <= 160 else math.ceil(n / 153))
    assert encoding_of(text) is Encoding.GSM7


@given(ucs_text.filter(lambda t: any(c not in GSM_BASIC + GSM_EXTENSION for c in t)))
def test_ucs2_text_counts_70_then_67(text: str) -> None:
    n = units(text)
    assert count_segments(text) == (1 if n <= 70 else math.ceil(n / 67))


@given(any_text, st.sampled_from(NOT_GSM + GSM_EXTENSION + "a"))
def test_adding_a_character_never_lowers_the_count(text: str, char: str) -> None:
    assert count_segments(text + char) >= count_segments(text)


@given(any_text)
def test_the_parts_hold_every_unit(text: str) -> None:
    encoding = encoding_of(text)
    room = (160 if encoding is Encoding.GSM7 else 70) if count_segments(text) == 1 else None
    if room:
        assert units(text) <= room
    else:
        per_part = 153 if encoding is Encoding.GSM7 else 67
        assert count_segments(text) * per_part >= units(text)
        assert (count_segments(text) - 1) * per_part < units(text)


@given(any_text, link, st.integers(1, 3))
def test_fit_keeps_the_link_and_fits(text: str, url: str, parts: int) -> None:
    fitted = fit_sms(text, url, max_segments=parts)
    assert count_segments(fitted) <= parts
    assert fitted.endswith(url)
    head = fitted[: -len(url)].rstrip()
    original = text.strip()
    if count_segments(f"{original} {url}".lstrip()) <= parts:
        assert fitted == (f"{original} {url}" if original else url)
    elif head:
        assert head.endswith(("...", "…"))
        assert original.startswith(head.removesuffix("...").removesuffix("…"))


@given(any_text)
def test_fit_without_a_link_is_a_prefix(text: str) -> None:
    fitted = fit_sms(text)
    assert count_segments(fitted) <= 2
    assert text.strip().startswith(fitted.removesuffix("...").removesuffix("…"))


def test_fit_prefers_a_word_boundary_and_gsm_ellipsis() -> None:
    text = "El servicio de correo está caído. " * 20
    fitted = fit_sms(text, "https://s.example/i/1")
    assert fitted.endswith("... https://s.example/i/1") or fitted.endswith(
        "… https://s.example/i/1"
    )
    assert " ".join(fitted.split()[:-1]).removesuffix("...").removesuffix("…")[-1] != " "
    assert count_segments(fitted) == 2


def test_a_link_too_long_for_the_parts_is_an_error() -> None:
    with pytest.raises(ValueError, match="link alone"):
        fit_sms("hola", "https://x.example/" + "a" * 400)
