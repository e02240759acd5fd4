"""The ratings table: one answer per customer per incident.

A customer may rate from the resolution notice and again from the apology;
the later answer replaces the earlier one (``UNIQUE (incident_id,
customer_id)``), and ``notice_kind`` says which message it came from, so the
report counts people, not clicks.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("incident_id", "customer_id"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score_on_scale"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    notice_kind: Mapped[str] = mapped_column(String(16))  # resolution | apology
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
