"""Bounces: what a relay reports after it accepted a message (RFC 3464 DSNs).

The channel records the relay's answer at hand-over; whether the message
reached the mailbox is only known later, when the relay (or the receiving
site) sends a delivery status notification back to our envelope sender.
:func:`parse_dsn` reads one into :class:`Bounce` records: which of our
messages (its Message-ID, from which
:func:`amends.delivery.mime.key_from_message_id` gives the ledger key), which
recipient, what happened and whether trying again could help.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser

from amends.errors import ValidationFailed

_ACTIONS = {"failed", "delayed", "delivered", "relayed", "expanded"}


@dataclass(frozen=True, slots=True)
class Bounce:
    """One recipient's fate, as one DSN reports it."""

    message_id: str | None  # the original message's Message-ID, "<...>"
    recipient: str
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # RFC 3463 code, e.g. "5.1.1"
    diagnostic: str | None = None
    envelope_id: str | None = None  # Original-Envelope-Id, when we sent ENVID

    @property
    def permanent(self) -> bool:
        """A failure that will not heal: do not send there again (5.x.x)."""
        return self.action == "failed" and self.status.startswith("5")


def parse_dsn(data: bytes) -> list[Bounce]:
    """The per-recipient reports in one DSN; :class:`ValidationFailed` if it is not one."""
    report = BytesParser(policy=policy.default).parsebytes(data)
    if report.get_content_type() != "multipart/report":
        raise ValidationFailed(
            f"not a delivery status notification: Content-Type is {report.get_content_type()}",
            field="Content-Type",
        )
    status_part = original = None
    for part in report.iter_parts() if isinstance(report, EmailMessage) else []:
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "message/global-delivery-status"):
            status_part = part
        elif kind in ("message/rfc822", "text/rfc822-headers", "message/global-headers"):
            original = part
    if status_part is None:
        raise ValidationFailed(
            "multipart/report without a message/delivery-status part", field="Content-Type"
        )
    blocks = _blocks(status_part)
    if not blocks:
        raise ValidationFailed("the delivery-status part is empty", field="delivery-status")
    per_message, recipients = blocks[0], blocks[1:]
    message_id = _original_message_id(original)
    envelope_id = _value(per_message, "Original-Envelope-Id")
    bounces = []
    for number, fields in enumerate(recipients, start=1):
        recipient = _address(_value(fields, "Final-Recipient") or "")
        action = (_value(fields, "Action") or "").lower()
        status = (_value(fields, "Status") or "").split(" ")[0].split("(")[0]
        if not recipient or action not in _ACTIONS or status[:1] not in ("2", "4", "5"):
            raise ValidationFailed(
                f"recipient block {number}: needs Final-Recipient, Action and Status"
                f" (got {recipient!r}, {action!r}, {status!r})",
                field="delivery-status",
            )
        bounces.append(
            Bounce(
                message_id=message_id,
                recipient=recipient,
                action=action,
                status=status,
                diagnostic=_value(fields, "Diagnostic-Code"),
                envelope_id=envelope_id,
            )
        )
    return bounces


def _blocks(part: Message) -> list[Message]:
    """The field groups of a delivery-status body, whichever way the parser left it."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message) and len(block)]
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    text = text.replace("\r\n", "\n")
    groups = [g for g in text.split("\n\n") if g.strip()]
    return [HeaderParser(policy=policy.default).parsestr(g + "\n") for g in groups]


def _value(fields: Message, name: str) -> str | None:
    value = fields.get(name)
    return " ".join(str(value).split()) if value is not None else None


def _address(field: str) -> str:
    """``rfc822; user@example.com`` -> ``user@example.com``."""
    kind, _, address = field.partition(";")
    return (address if _ else kind).strip().strip("<>")


def _original_message_id(part: Message | None) -> str | None:
    if part is None:
        return None
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        headers: Message = payload[0]
    else:
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
        headers = HeaderParser(policy=policy.default).parsestr(text)
    value = headers.get("Message-ID")
    return str(value).strip() if value else None
