"""A draft notice and the versions of its text.

A draft belongs to an incident and is one customer-wide message: its texts in
each language (subject, e-mail body, SMS, voice script) are kept as a new
version on every edit, so what was approved and sent can always be read back
with who wrote it and when. The ledger's notice for a sent draft is
``(incident, "draft", update_key = draft id)``: one per draft, never two.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from amends.db import Base, UTCDateTime, utcnow

LANGUAGES = ("es", "en")
#: The parts of one language's text, in the order the editor shows them.
PARTS = ("subject", "email", "sms", "voice")


class DraftKind(enum.StrEnum):
    """What the draft says; each starts from the composer's text of that kind."""

    first_notice = "first_notice"
    update = "update"
    resolution = "resolution"
    postmortem = "postmortem"
    correction = "correction"


class DraftState(enum.StrEnum):
    draft = "draft"  # being written; any edit brings a requested draft back here
    requested = "requested"  # someone asked for it to be sent
    sent = "sent"  # approved and owed to every affected customer (the ledger)
    discarded = "discarded"


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, validate_strings=True)


class MessageDraft(Base):
    """A notice being written (intake's ``Draft`` is an incident not yet published)."""

    __tablename__ = "drafts"
    __table_args__ = (Index("ix_drafts_incident_id", "incident_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[DraftKind] = mapped_column(_enum(DraftKind))
    state: Mapped[DraftState] = mapped_column(_enum(DraftState), default=DraftState.draft)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The number of the latest version (the text an approval sends).
    version: Mapped[int] = mapped_column(Integer, default=1)
    requested_by: Mapped[str | None] = mapped_column(String(320))
    requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(320))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The version that was sent (the ledger renders this one, whatever happens later).
    sent_version: Mapped[int | None] = mapped_column(Integer)
    notice_id: Mapped[int | None] = mapped_column(Integer)
    override_reason: Mapped[str | None] = mapped_column(Text)
    discarded_by: Mapped[str | None] = mapped_column(String(320))
    discarded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    versions: Mapped[list[DraftVersion]] = relationship(
        # module-qualified: intake has a MessageDraft of its own (an incident not yet published)
        f"{__name__}.DraftVersion",
        back_populates="draft",
        order_by=lambda: DraftVersion.number,
        cascade="all, delete-orphan",
    )

    @property
    def open(self) -> bool:
        return self.state in (DraftState.draft, DraftState.requested)

    @property
    def current(self) -> DraftVersion:
        return next(v for v in self.versions if v.number == self.version)

    @property
    def authors(self) -> set[str]:
        """Everyone who wrote a version: under the two-person rule none may approve it."""
        return {v.written_by for v in self.versions}


class DraftVersion(Base):
    """One saved text of a draft: ``texts[lang][part]`` (see :data:`PARTS`)."""

    __tablename__ = "draft_versions"
    __table_args__ = (UniqueConstraint("draft_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    texts: Mapped[dict[str, Any]] = mapped_column(JSON)
    written_by: Mapped[str] = mapped_column(String(320))
    written_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    draft: Mapped[MessageDraft] = relationship(back_populates="versions")

    def text(self, lang: str, part: str) -> str:
        return str(self.texts.get(lang, {}).get(part, ""))
