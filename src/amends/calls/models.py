"""Account managers and the calls they are asked to make during an incident."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime, utcnow


class CallOutcome(enum.StrEnum):
    reached = "reached"  # spoke to the customer
    voicemail = "voicemail"  # left a message: not reached
    no_answer = "no_answer"


class AccountManager(Base):
    """Someone at the provider who calls customers by hand."""

    __tablename__ = "account_managers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CallAssignment(Base):
    """One customer to call about one incident, and how the last call went.

    ``outcome`` is empty until the manager records a call; ``escalate_at``
    is when a customer still unreached is handed to an automated call (set
    when the customer is assigned: the list's escalation time), and
    ``escalated_at`` is when that happened.
    """

    __tablename__ = "call_assignments"
    __table_args__ = (
        UniqueConstraint("incident_id", "customer_id"),
        Index("ix_call_assignments_manager", "manager_id", "incident_id"),
        # The escalation sweep looks for rows not escalated whose time has come.
        Index("ix_call_assignments_due", "escalated_at", "escalate_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    manager_id: Mapped[int] = mapped_column(ForeignKey("account_managers.id"))
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[CallOutcome | None] = mapped_column(
        Enum(CallOutcome, native_enum=False, length=16, validate_strings=True)
    )
    called_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    escalate_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
