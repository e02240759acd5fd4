"""The facts of one incident, as the operator establishes them.

One row per incident. Lists (actions, exposed data kinds) are short, read and
written whole with their incident, and never queried across incidents, so they
are JSON columns rather than child tables.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime, utcnow
from amends.facts.kinds import CauseOwner, Exposure


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=24, validate_strings=True)


class IncidentFacts(Base):
    """What failed, why, who owned the cause, what was done, and what data was exposed.

    The check constraint keeps the one promise the auditor relies on: an
    assessment of ``none`` always names who signed it off, and when.
    """

    __tablename__ = "incident_facts"
    __table_args__ = (
        CheckConstraint(
            "exposure <> 'none' OR (exposure_signed_off_by IS NOT NULL "
            "AND exposure_signed_off_at IS NOT NULL)",
            name="none_is_signed_off",
        ),
    )

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    what_failed: Mapped[str] = mapped_column(Text, default="")
    customer_effect: Mapped[str] = mapped_column(Text, default="")
    root_cause: Mapped[str] = mapped_column(Text, default="")
    cause_owner: Mapped[CauseOwner | None] = mapped_column(_enum(CauseOwner))
    actions_taken: Mapped[list[str]] = mapped_column(JSON, default=list)
    actions_planned: Mapped[list[str]] = mapped_column(JSON, default=list)
    exposure: Mapped[Exposure] = mapped_column(
        _enum(Exposure), default=Exposure.under_investigation
    )
    exposed_data: Mapped[list[str]] = mapped_column(JSON, default=list)
    exposure_signed_off_by: Mapped[str | None] = mapped_column(String(200))
    exposure_signed_off_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    contact_point: Mapped[str] = mapped_column(String(300), default="")
    #: who signs the apology: a senior, named person ("Ana Ruiz, CEO"; rule S1)
    signatory: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # The same texts in other languages: {"es": {"root_cause": "…", "actions_taken": […]}}.
    # The columns above hold the text as first written; customers get their own
    # language when a translation exists.
    translations: Mapped[dict[str, dict[str, Any]]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditOverride(Base):
    """A person's recorded decision to send a message despite a blocking finding."""

    __tablename__ = "audit_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16))
    rules: Mapped[list[str]] = mapped_column(JSON)
    who: Mapped[str] = mapped_column(String(200))
    why: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
