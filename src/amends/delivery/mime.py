"""Standards-correct MIME for one recipient at a time, tens of thousands per second.

``email.message.EmailMessage`` costs ~1.3 ms per message, more than sending it
(docs/benchmarks.md, "E-mail fan-out"). A notice goes to millions of people
with the same structure and different words, so :class:`MimeSkeleton` fixes
everything that does not depend on the recipient once per variant (From, the
multipart structure, part headers, boundary) and :meth:`MimeSkeleton.build`
only encodes what does: To, Subject, Message-ID, List-Unsubscribe and the two
bodies. The encoders are the C ones in :mod:`binascii`; the output parses back
with Python's own ``email`` parser to exactly what was meant
(tests/test_email_mime.py).

Rules this module keeps:

- only 7-bit output: bodies are quoted-printable, or base64 when that is
  shorter (emoji, non-Latin scripts); lines stay under 78 characters, so no
  relay has to convert anything and no line comes near the 998 limit;
- text is UTF-8 with CRLF line breaks (bare CR and LF are normalised);
- non-ASCII names and subjects become RFC 2047 encoded-words of at most 75
  characters, one per folded line; ASCII ones stay readable;
- the boundary contains ``=_``, which neither quoted-printable nor base64
  output can contain, so no body can end a part early;
- dot-stuffing is the SMTP layer's job (:mod:`amends.delivery.smtp`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import quote

from amends.errors import ValidationFailed

CRLF = b"\r\n"

_SAFE_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_SAFE_QUOTED = re.compile(r"[\x20-\x7e]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")  # dot-atom@domain
_MSGID_LEFT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+-]*(?:\.[A-Za-z0-9_+-]+)*")
_SAFE_URL = re.compile(r"https?://[A-Za-z0-9:/?#\[\]@!$&'()*+,;=%~._-]+")
_ENCODED_WORD_BYTES = 39  # -> 52 base64 chars, 64 with =?utf-8?b??=: "Subject: " + word < 76
_LINE = 76


def clean(text: str) -> str:
    """A one-line header value: control characters and line breaks become spaces."""
    return _CONTROL.sub(" ", text).strip()


def encoded_words(text: str) -> list[str]:
    """RFC 2047 B-encoded words, split between characters, each at most 75 characters."""
    whole = text.encode("utf-8", "replace")
    if len(whole) <= _ENCODED_WORD_BYTES:
        return [_word(whole)]  # the common case: a name or a short subject
    words: list[str] = []
    chunk: list[bytes] = []
    size = 0
    for char in text:
        raw = char.encode("utf-8", "replace")
        if size + len(raw) > _ENCODED_WORD_BYTES and chunk:
            words.append(_word(b"".join(chunk)))
            chunk, size = [], 0
        chunk.append(raw)
        size += len(raw)
    if chunk:
        words.append(_word(b"".join(chunk)))
    return words


def _word(raw: bytes) -> str:
    return "=?utf-8?b?" + binascii.b2a_base64(raw, newline=False).decode("ascii") + "?="


def header_text(name: str, value: str) -> bytes:
    """``Name: value`` for unstructured text (Subject), folded, ending in CRLF."""
    value = clean(value)
    if value.isascii() and "=?" not in value and len(name) + 2 + len(value) <= _LINE:
        return f"{name}: {value}\r\n".encode("ascii")
    return (f"{name}: " + "\r\n ".join(encoded_words(value)) + "\r\n").encode("ascii")


def phrase(name: str) -> str:
    """A display name as RFC 5322 wants it: atoms, a quoted string or encoded-words.

    Non-ASCII names longer than one encoded-word (39 UTF-8 bytes) are split
    between characters as RFC 2047 says; CPython's parser then shows a space
    at the join (it keeps whitespace between encoded-words in a phrase, which
    §6.2 says to ignore). Real names fit in one word.
    """
    name = " ".join(clean(name).split())  # whitespace in a phrase is one space (RFC 5322 3.2.2)
    if not name:
        return ""
    if "=?" not in name and len(name) < 300 and name.isascii():
        if _SAFE_ATOMS.fullmatch(name) and len(name) < 60:
            return name
        if _SAFE_QUOTED.fullmatch(name):
            return _fold_quoted('"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "\r\n ".join(encoded_words(name))


def _fold_quoted(quoted: str) -> str:
    """Fold a long quoted string at its spaces; unfolding (dropping CRLF) restores it."""
    if len(quoted) <= 60:
        return quoted
    pieces = quoted.split(" ")
    out = pieces[0]
    line = len(out)
    for piece in pieces[1:]:
        if line + 1 + len(piece) > 70 and piece:
            out += "\r\n " + piece
            line = 1 + len(piece)
        else:
            out += " " + piece
            line += 1 + len(piece)
    return out


def check_address(address: str) -> str:
    """The address as it goes on the wire, or :class:`ValidationFailed` if SMTP cannot carry it.

    Addresses were validated on import; this only refuses what this sender
    cannot put in an envelope: non-ASCII (SMTPUTF8), quoted local parts.
    """
    if not address.isascii() or not _ADDRESS.fullmatch(address):
        raise ValidationFailed(f"e-mail address {address!r} cannot be sent over plain SMTP")
    return address


def mailbox(name: str, address: str) -> str:
    """``Name <address>`` or the bare address."""
    shown = phrase(name)
    if not shown:
        return address
    last = shown.rsplit("\n", 1)[-1]
    return f"{shown}{' ' if len(last) + len(address) < 66 else chr(13) + chr(10) + ' '}<{address}>"


def message_id(key: str, domain: str) -> str:
    """The deterministic Message-ID of the message with ledger key ``key``.

    Safe keys are used as they are; others are base32-encoded, so the key can
    always be read back from a bounce (:func:`key_from_message_id`).
    """
    if _MSGID_LEFT.fullmatch(key) and not key.startswith("b32."):
        return f"<{key}@{domain}>"
    encoded = base64.b32encode(key.encode("utf-8")).decode("ascii").rstrip("=").lower()
    return f"<b32.{encoded}@{domain}>"


def key_from_message_id(value: str, domain: str) -> str | None:
    """The ledger key inside one of our Message-IDs; None if it is not ours."""
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    left, at, right = value.rpartition("@")
    if not at or right.lower() != domain.lower() or not left:
        return None
    if not left.startswith("b32."):
        return left
    encoded = left[4:].upper()
    try:
        return base64.b32decode(encoded + "=" * (-len(encoded) % 8)).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def encode_body(text: str) -> tuple[bytes, bytes]:
    """(Content-Transfer-Encoding, encoded body with CRLF line breaks) for UTF-8 text."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"  # a text body is lines, each ending in a line break
    raw = text.encode("utf-8", "replace")
    qp = binascii.b2a_qp(raw, istext=True)
    if len(qp) <= len(raw) * 1.25 + 32:
        if qp.startswith(b"From "):
            qp = b"=46" + qp[1:]
        return b"quoted-printable", qp.replace(b"\nFrom ", b"\n=46rom ").replace(b"\n", CRLF)
    canonical = raw.replace(b"\n", CRLF)
    return b"base64", base64.encodebytes(canonical).replace(b"\n", CRLF)


def unsubscribe_header(url: str, mailto: str | None, key: str) -> bytes:
    """``List-Unsubscribe`` with the one-click https URL first (RFC 2369, RFC 8058)."""
    if not _SAFE_URL.fullmatch(url):
        url = quote(clean(url), safe=":/?#[]@!$&'()*+,;=%~")
    targets = [f"<{url}>"]
    if mailto:
        targets.append(f"<mailto:{mailto}?subject=unsubscribe%20{quote(key, safe='')}>")
    return ("List-Unsubscribe: " + ",\r\n ".join(targets) + "\r\n").encode("ascii")


class _Clock:
    """The Date header, formatted once a second rather than once a message."""

    second = -1
    value = b""

    def header(self) -> bytes:
        now = int(time.time())
        if now != self.second:
            self.second = now
            self.value = b"Date: " + formatdate(now, usegmt=True).encode("ascii") + CRLF
        return self.value


@dataclass(frozen=True, slots=True)
class Sender:
    """Who notices come from, and the domain of their Message-IDs."""

    address: str
    name: str = ""
    message_id_domain: str = "amends.invalid"
    unsubscribe_mailto: str | None = None


class MimeSkeleton:
    """Everything about a variant's messages that does not depend on the recipient."""

    def __init__(self, sender: Sender, variant: str = "") -> None:
        self.sender = sender
        digest = hashlib.sha256(variant.encode("utf-8")).hexdigest()[:24]
        boundary = f"=_amends_{digest}".encode("ascii")
        check_address(sender.address)
        self._from = ("From: " + mailbox(sender.name, sender.address) + "\r\n").encode("ascii")
        common = b"MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
        self._multipart_head = (
            common + b'Content-Type: multipart/alternative;\r\n boundary="' + boundary + b'"\r\n'
        )
        self._single_head = common + b"Content-Type: text/plain; charset=utf-8\r\n"
        self._text_part = b"--" + boundary + b"\r\nContent-Type: text/plain; charset=utf-8\r\n"
        self._html_part = b"--" + boundary + b"\r\nContent-Type: text/html; charset=utf-8\r\n"
        self._close = b"--" + boundary + b"--\r\n"
        self._post = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        self._subjects: dict[str, bytes] = {}
        self._clock = _Clock()

    def _subject(self, subject: str) -> bytes:
        line = self._subjects.get(subject)
        if line is None:
            if len(self._subjects) > 1000:
                self._subjects.clear()
            line = self._subjects[subject] = header_text("Subject", subject)
        return line

    def build(
        self,
        *,
        key: str,
        address: str,
        name: str,
        subject: str,
        text: str,
        html: str | None = None,
        locale: str = "",
        unsubscribe_url: str | None = None,
    ) -> bytes:
        """The whole message for one recipient, CRLF line breaks, not dot-stuffed."""
        check_address(address)
        parts = [
            self._clock.header(),
            self._from,
            b"To: " + mailbox(name, address).encode("ascii") + CRLF,
            self._subject(subject),
            b"Message-ID: " + message_id(key, self.sender.message_id_domain).encode("ascii") + CRLF,
        ]
        if locale and _MSGID_LEFT.fullmatch(locale):
            parts.append(b"Content-Language: " + locale.encode("ascii") + CRLF)
        if unsubscribe_url:
            parts.append(unsubscribe_header(unsubscribe_url, self.sender.unsubscribe_mailto, key))
            parts.append(self._post)
        encoding, body = encode_body(text)
        if not html:
            parts += [self._single_head, b"Content-Transfer-Encoding: ", encoding, CRLF, CRLF]
            parts.append(body)
            return b"".join(parts)
        html_encoding, html_body = encode_body(html)
        parts += [self._multipart_head, CRLF]
        # each body ends in a line break; the CRLF before a boundary belongs to the boundary
        parts += [self._text_part, b"Content-Transfer-Encoding: ", encoding, CRLF, CRLF, body]
        parts += [CRLF, self._html_part, b"Content-Transfer-Encoding: ", html_encoding, CRLF]
        parts += [CRLF, html_body, CRLF, self._close]
        return b"".join(parts)
