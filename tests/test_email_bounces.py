"""DSNs (RFC 3464) as relays send them, read back into bounces."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amends.delivery.bounces import Bounce, parse_dsn
from amends.delivery.mime import MimeSkeleton, Sender, key_from_message_id
from amends.errors import ValidationFailed

ORIGINAL = MimeSkeleton(Sender("avisos@hosting.example", "Avisos", "hosting.example")).build(
    key="inc-42.cust-7.n1",
    address="ana@example.com",
    name="Ana Núñez",
    subject="Incidencia",
    text="Hola",
)

POSTFIX = (
    b"Return-Path: <>\r\n"
    b"From: MAILER-DAEMON@relay.hosting.example (Mail Delivery System)\r\n"
    b"To: avisos@hosting.example\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n"
    b"Auto-Submitted: auto-replied\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/report; report-type=delivery-status;\r\n"
    b'\tboundary="4A1B2C3D.1700000000/relay.hosting.example"\r\n'
    b"\r\n"
    b"This is a MIME-encapsulated message.\r\n\r\n"
    b"--4A1B2C3D.1700000000/relay.hosting.example\r\n"
    b"Content-Description: Notification\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    b"I'm sorry to have to inform you that your message could not\r\n"
    b"be delivered to one or more recipients.\r\n\r\n"
    b"--4A1B2C3D.1700000000/relay.hosting.example\r\n"
    b"Content-Description: Delivery report\r\n"
    b"Content-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; relay.hosting.example\r\n"
    b"X-Postfix-Queue-ID: 4A1B2C3D\r\n"
    b"Original-Envelope-Id: inc-42.cust-7.n1\r\n"
    b"Arrival-Date: Mon, 23 Nov 2026 13:05:00 +0000 (UTC)\r\n\r\n"
    b"Final-Recipient: rfc822; ana@example.com\r\n"
    b"Original-Recipient: rfc822;ana@example.com\r\n"
    b"Action: failed\r\n"
    b"Status: 5.1.1\r\n"
    b"Remote-MTA: dns; mx.example.com\r\n"
    b"Diagnostic-Code: smtp; 550 5.1.1 <ana@example.com>: Recipient address\r\n"
    b"    rejected: User unknown in virtual mailbox table\r\n\r\n"
    b"--4A1B2C3D.1700000000/relay.hosting.example\r\n"
    b"Content-Description: Undelivered Message\r\n"
    b"Content-Type: message/rfc822\r\n\r\n" + ORIGINAL + b"\r\n"
    b"--4A1B2C3D.1700000000/relay.hosting.example--\r\n"
)

HEADERS_ONLY = (
    b"From: postmaster@mx.example.org\r\n"
    b"To: avisos@hosting.example\r\n"
    b"Subject: Delivery Status Notification (Delay)\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type="delivery-status"; boundary="b1"\r\n'
    b"\r\n--b1\r\nContent-Type: text/plain\r\n\r\nStill trying.\r\n"
    b"--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns;mx.example.org\r\n\r\n"
    b"Final-Recipient: RFC822;<luis@example.org>\r\n"
    b"Action: Delayed\r\n"
    b"Status: 4.4.1 (no answer from host)\r\n"
    b"Will-Retry-Until: Tue, 24 Nov 2026 13:05:00 +0000\r\n\r\n"
    b"Final-Recipient: rfc822;gone@example.org\r\n"
    b"Action: failed\r\n"
    b"Status: 5.2.1\r\n\r\n"
    b"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    b"Message-ID: <inc-42.cust-9.n1@hosting.example>\r\n"
    b"Subject: Incidencia\r\n\r\n"
    b"--b1--\r\n"
)


def test_a_postfix_bounce() -> None:
    (bounce,) = parse_dsn(POSTFIX)
    assert bounce == Bounce(
        message_id="<inc-42.cust-7.n1@hosting.example>",
        recipient="ana@example.com",
        action="failed",
        status="5.1.1",
        diagnostic="smtp; 550 5.1.1 <ana@example.com>: Recipient address rejected: "
        "User unknown in virtual mailbox table",
        envelope_id="inc-42.cust-7.n1",
    )
    assert bounce.permanent
    assert key_from_message_id(bounce.message_id or "", "hosting.example") == "inc-42.cust-7.n1"


def test_a_delay_and_a_failure_with_headers_only() -> None:
    delayed, failed = parse_dsn(HEADERS_ONLY)
    assert (delayed.recipient, delayed.action, delayed.status) == (
        "luis@example.org",
        "delayed",
        "4.4.1",
    )
    assert not delayed.permanent
    assert (failed.recipient, failed.status) == ("gone@example.org", "5.2.1")
    assert failed.permanent
    assert delayed.message_id == failed.message_id == "<inc-42.cust-9.n1@hosting.example>"


def test_lf_line_endings_parse_the_same() -> None:
    assert parse_dsn(POSTFIX.replace(b"\r\n", b"\n")) == parse_dsn(POSTFIX)


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        (b"Subject: hi\r\nContent-Type: text/plain\r\n\r\nhello\r\n", "Content-Type is text/plain"),
        (
            b'Content-Type: multipart/report; boundary="b"\r\n\r\n--b\r\n'
            b"Content-Type: text/plain\r\n\r\nx\r\n--b--\r\n",
            "without a message/delivery-status part",
        ),
        (
            HEADERS_ONLY.replace(b"Action: failed", b"Action: exploded"),
            "recipient block 2",
        ),
    ],
)
def test_what_is_not_a_dsn_is_refused_with_a_reason(data: bytes, complaint: str) -> None:
    with pytest.raises(ValidationFailed, match=complaint):
        parse_dsn(data)


_recipients = st.lists(
    st.tuples(
        st.from_regex(r"[a-z0-9][a-z0-9.+_-]{0,15}@[a-z0-9-]{1,10}\.(es|com|org)", fullmatch=True),
        st.sampled_from(["failed", "delayed", "delivered", "relayed", "expanded"]),
        st.tuples(st.sampled_from("245"), st.integers(0, 7), st.integers(0, 9)).map(
            lambda t: f"{t[0]}.{t[1]}.{t[2]}"
        ),
    ),
    min_size=1,
    max_size=6,
)


@settings(deadline=None)  # the machine is shared: wall time per example is noise
@given(recipients=_recipients, key=st.from_regex(r"[a-z0-9][a-z0-9.-]{0,30}", fullmatch=True))
def test_any_report_reads_back(recipients: list[tuple[str, str, str]], key: str) -> None:
    blocks = b"".join(
        f"Final-Recipient: rfc822; {address}\r\nAction: {act}\r\nStatus: {code}\r\n\r\n".encode()
        for address, act, code in recipients
    )
    data = (
        b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        b'boundary="=b"\r\n\r\n--=b\r\nContent-Type: message/delivery-status\r\n\r\n'
        b"Reporting-MTA: dns; relay.example\r\n\r\n" + blocks + b"--=b\r\n"
        b"Content-Type: text/rfc822-headers\r\n\r\n"
        + f"Message-ID: <{key}@hosting.example>\r\n\r\n".encode()
        + b"--=b--\r\n"
    )
    bounces = parse_dsn(data)
    assert [(b.recipient, b.action, b.status) for b in bounces] == recipients
    assert all(b.message_id == f"<{key}@hosting.example>" for b in bounces)
    assert [b.permanent for b in bounces] == [
        action == "failed" and status[0] == "5" for _, action, status in recipients
    ]
