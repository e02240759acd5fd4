"""Every message we build parses back, with Python's own e-mail parser, to what was meant."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from amends.delivery.mime import (
    MimeSkeleton,
    Sender,
    key_from_message_id,
    message_id,
)
from amends.errors import ValidationFailed

DOMAIN = "hosting.example"
SENDER = Sender("avisos@hosting.example", "Soporte Técnico", DOMAIN, "baja@hosting.example")

# Text as people and templates write it: accents, emoji, any script, but no
# surrogates (not encodable) and no C0/C1 controls other than line breaks and tabs.
_chars = st.characters(
    blacklist_categories=("Cs", "Cc"),
    whitelist_characters="\n\r\t",
)
_texts = st.one_of(
    st.text(_chars, max_size=400),
    st.lists(
        st.sampled_from(
            [
                ".",
                "..",
                ".hidden",
                "From here",
                "From ",
                "=",
                "=?utf-8?q?x?=",
                " ",
                "\t",
                "á",
                "😀",
                "\r\n",
                "\n",
                "\r",
                "x" * 1200,
                "ñ" * 300,
                "=20",
                "--=_amends_",
                "\u2028",
            ]
        ),
        max_size=30,
    ).map("".join),
)
_names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=120)
_local = st.from_regex(r"[a-z0-9](?:[a-z0-9._+-]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda s: ".." not in s
)
_addresses = st.builds(lambda u, d: f"{u}@{d}", _local, st.sampled_from(["example.com", "b.es"]))


def lines(text: str) -> str:
    """What "the same text" means in mail: lines, each ending in a line break (CRLF on the wire)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def one_line(text: str) -> str:
    """A header is one line: line and paragraph separators become spaces."""
    return text.replace("\u2028", " ").replace("\u2029", " ")


def parse(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def check_wire_format(data: bytes) -> None:
    assert data.isascii(), "7-bit only"
    assert b"\n" not in data.replace(b"\r\n", b""), "no bare LF"
    assert b"\r" not in data.replace(b"\r\n", b""), "no bare CR"
    for line in data.split(b"\r\n"):
        # a Message-ID or a URL is one token and cannot be folded (long keys make long ones)
        token = line.startswith((b"Message-ID:", b"List-Unsubscribe:", b" <"))
        assert len(line) <= (998 if token else 78), line


@settings(max_examples=300, deadline=None)
@given(
    name=_names,
    address=_addresses,
    subject=_names,
    text=_texts,
    html=st.one_of(st.none(), st.just(""), _texts),
    key=st.text(min_size=1, max_size=60),
    unsubscribe=st.one_of(st.none(), st.just("https://status.hosting.example/u/t0k3n?x=1&y=2")),
    variant=st.sampled_from(["es", "en", ""]),
)
def test_message_parses_back_to_what_was_meant(
    name: str,
    address: str,
    subject: str,
    text: str,
    html: str | None,
    key: str,
    unsubscribe: str | None,
    variant: str,
) -> None:
    # CPython shows a space between adjacent encoded-words in a display name
    # (test_long_non_ascii_names_follow_rfc_2047 below): keep such names to one word.
    assume(name.isascii() or len(name.strip().encode()) <= 39)
    data = MimeSkeleton(SENDER, variant).build(
        key=key,
        address=address,
        name=name,
        subject=subject,
        text=text,
        html=html,
        locale="es",
        unsubscribe_url=unsubscribe,
    )
    check_wire_format(data)
    message = parse(data)
    assert message.defects == []
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == (" ".join(one_line(name).split()), address)
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Soporte Técnico", "avisos@hosting.example")
    assert message["Subject"] == one_line(subject).strip()
    assert key_from_message_id(message["Message-ID"], DOMAIN) == key
    assert message["Date"].datetime is not None
    assert message["Content-Language"] == "es"
    plain = message.get_body(("plain",))
    assert plain is not None
    assert lines(plain.get_content()) == lines(text)
    if html:
        assert message.get_content_type() == "multipart/alternative"
        rich = message.get_body(("html",))
        assert rich is not None
        assert lines(rich.get_content()) == lines(html)
    else:
        assert message.get_content_type() == "text/plain"
        assert not message.is_multipart()
    if unsubscribe:
        assert message["List-Unsubscribe"].startswith(f"<{unsubscribe}>")
        assert "<mailto:baja@hosting.example?subject=unsubscribe%20" in message["List-Unsubscribe"]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    else:
        assert "List-Unsubscribe" not in message
        assert "List-Unsubscribe-Post" not in message


def test_readable_headers_stay_readable() -> None:
    data = MimeSkeleton(SENDER, "en").build(
        key="inc-7.cust-42.n1",
        address="ana@example.com",
        name="Ana Smith",
        subject="Outage: e-mail is down",
        text="Hello Ana,\n.\nwe are on it.",
        html="<p>Hello</p>",
        unsubscribe_url="https://s.example/u/1",
    )
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    assert "To: Ana Smith <ana@example.com>" in head
    assert "Subject: Outage: e-mail is down" in head
    assert "Message-ID: <inc-7.cust-42.n1@hosting.example>" in head
    assert "From: =?utf-8?b?" in head  # "Técnico": encoded-word
    assert re.search(r"^Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r$", head, re.M)
    assert "\r\n=2E\r\n" in data.decode()  # a lone dot is encoded, never a bare "." line


def test_control_characters_in_a_name_cannot_inject_headers() -> None:
    data = MimeSkeleton(SENDER).build(
        key="k",
        address="a@example.com",
        name="Eve\r\nBcc: victim@example.com",
        subject="Hi\nBcc: x@example.com",
        text="x",
    )
    message = parse(data)
    assert "Bcc" not in message
    assert message["To"].addresses[0].display_name == "Eve Bcc: victim@example.com"


@pytest.mark.parametrize("address", ["josé@example.com", '"a b"@example.com', "a@b@c", "x y@e.com"])
def test_addresses_smtp_cannot_carry_are_refused(address: str) -> None:
    with pytest.raises(ValidationFailed, match="cannot be sent"):
        MimeSkeleton(SENDER).build(key="k", address=address, name="", subject="s", text="t")


@settings(deadline=None)
@given(st.text(min_size=1, max_size=80))
def test_message_id_round_trips_any_key(key: str) -> None:
    value = message_id(key, DOMAIN)
    assert value.isascii() and " " not in value
    assert key_from_message_id(value, DOMAIN) == key
    assert key_from_message_id(value, "other.example") is None


def test_base64_for_emoji_heavy_text_quoted_printable_for_spanish() -> None:
    skeleton = MimeSkeleton(SENDER)
    spanish = skeleton.build(key="a", address="a@b.es", name="", subject="s", text="Señor Muñoz")
    emoji = skeleton.build(key="b", address="a@b.es", name="", subject="s", text="😀" * 50)
    assert b"Content-Transfer-Encoding: quoted-printable" in spanish
    assert b"Se=C3=B1or" in spanish
    assert b"Content-Transfer-Encoding: base64" in emoji


def test_long_non_ascii_names_follow_rfc_2047() -> None:
    name = "Compañía Española de Señalización y Telecomunicación Ibérica 🎉"
    data = MimeSkeleton(SENDER).build(key="k", address="a@b.es", name=name, subject="s", text="t")
    check_wire_format(data)
    raw = data.split(b"\r\nTo: ", 1)[1].split(b" <a@b.es>")[0]
    # RFC 2047 decoding (whitespace between encoded-words ignored) gives the name exactly
    assert str(make_header(decode_header(raw.decode("ascii")))) == name
    # CPython's address parser keeps the whitespace at the join: same letters, extra spaces
    shown = parse(data)["To"].addresses[0].display_name
    assert shown.replace(" ", "") == name.replace(" ", "")
