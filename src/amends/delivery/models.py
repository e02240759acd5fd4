"""Tables of the delivery ledger: what we owe to whom, and what became of it.

A *notice* is one thing to tell about an incident (it opened, an update, it
is resolved). A *delivery* is one notice owed to one recipient on one
channel: the transactional outbox. The ledger, not any queue, is the truth:
a worker may die, a job may be lost or run twice, and the rows' states still
say what was sent, so nothing is lost and nothing goes out twice.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime, utcnow


class NoticeKind(enum.StrEnum):
    first = "first"  # "we know, we are on it"
    update = "update"  # an update the operator marked customer-facing
    resolution = "resolution"
    maintenance = "maintenance"
    apology = "apology"
    breach = "breach"
    credit = "credit"  # a credit event for the provider's billing system (update_key: its id)
    call_list = "call_list"  # account managers: the customers they are to phone
    escalation = "escalation"  # an automated call to a customer nobody reached
    draft = "draft"  # a text an operator drafted and an approver sent (update_key: the draft)


class DeliveryState(enum.StrEnum):
    pending = "pending"  # owed; due at next_attempt_at
    sending = "sending"  # leased to a worker until lease_until
    sent = "sent"  # the provider accepted it
    failed = "failed"  # permanently refused, or out of attempts
    suppressed = "suppressed"  # opted out, or no usable address: never sent


class RecipientKind(enum.StrEnum):
    customer = "customer"
    subscriber = "subscriber"
    billing = "billing"  # a billing endpoint (credits.models.BillingEndpoint)
    manager = "manager"  # an account manager (calls.models.AccountManager)


def _enum(cls: type[enum.Enum], length: int = 16) -> Enum:
    return Enum(cls, native_enum=False, length=length, validate_strings=True)


class Notice(Base):
    """One event to tell about an incident. ``(incident, kind, update)`` is unique,
    so asking twice for the same notice finds the first one."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("incident_id", "kind", "update_key"),
        # Every claim asks which notices are paused: only those are indexed.
        Index(
            "ix_notices_paused",
            "id",
            postgresql_where=text("paused_at IS NOT NULL"),
            sqlite_where=text("paused_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[NoticeKind] = mapped_column(_enum(NoticeKind))
    update_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident_updates.id", ondelete="CASCADE")
    )
    # update_id, or 0 when there is none: NULLs never collide in a UNIQUE
    # constraint, and "one first notice per incident" must hold.
    update_key: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the first of its messages was accepted by a provider: when customers
    # began to hear (the cadence counts from it). Set once, by the dispatcher.
    first_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Customer ids from here on still owe rows: the notice was written in two
    # steps, first slice then the rest (delivery/slices.py); NULL once complete.
    rows_from: Mapped[int | None] = mapped_column(BigInteger)
    # An operator paused its sending (delivery/pausing.py): no row of it is
    # claimed until it is resumed. NULL: it is sent as usual.
    paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paused_by: Mapped[str | None] = mapped_column(Text)


class Delivery(Base):
    """One notice owed to one recipient on one channel.

    ``address``, ``locale`` and ``name`` are captured when the row is created:
    the message that goes out is the one decided then, even if an import
    changes the customer meanwhile. Rows are created set-based
    (:func:`amends.delivery.service.create_deliveries`), never one by one.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("notice_id", "recipient_kind", "recipient_id", "channel"),
        # Claiming walks one state in id order: fresh rows first, no sort.
        Index("ix_deliveries_state_id", "state", "id"),
        # Provider receipts (Twilio status callbacks) find their row by the provider's id.
        Index("ix_deliveries_provider_id", "provider_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # No FOREIGN KEY: PostgreSQL checks one with a trigger per inserted row,
    # 16 s of a 35 s million-row insert (docs/benchmarks.md). The notice is
    # created in the same transaction as its rows, and notices are never deleted.
    notice_id: Mapped[int] = mapped_column(Integer)
    recipient_kind: Mapped[RecipientKind] = mapped_column(_enum(RecipientKind))
    recipient_id: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(2048))
    locale: Mapped[str] = mapped_column(String(16))
    state: Mapped[DeliveryState] = mapped_column(_enum(DeliveryState))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
