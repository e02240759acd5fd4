"""How drafts look to the outside: API bodies and responses, and the CLI's ``--json``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from amends.messages.audit import Report
from amends.messages.drafts.models import DraftKind, DraftState, DraftVersion, MessageDraft
from amends.messages.drafts.review import Preview

TEXT_MAX = 20_000


class NewDraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: DraftKind = Field(description="What the draft says; it starts as the composer's text.")


class PartsIn(BaseModel):
    """One language's parts; an omitted part keeps the current version's text."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, max_length=TEXT_MAX)
    email: str | None = Field(default=None, max_length=TEXT_MAX)
    sms: str | None = Field(default=None, max_length=TEXT_MAX)
    voice: str | None = Field(default=None, max_length=TEXT_MAX)


class TextsIn(BaseModel):
    """The texts to change, per language; what is omitted is kept."""

    model_config = ConfigDict(extra="forbid")

    es: PartsIn | None = None
    en: PartsIn | None = None

    def changes(self) -> dict[str, dict[str, str]]:
        return {
            lang: parts.model_dump(exclude_none=True)
            for lang, parts in (("es", self.es), ("en", self.en))
            if parts is not None
        }


class SaveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: TextsIn


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    override_reason: str | None = Field(
        default=None,
        max_length=2000,
        description="Needed (and only allowed) when the auditor blocks a language; recorded.",
    )


class DraftOut(BaseModel):
    """A draft's state, and who did what when."""

    id: int
    incident_id: int
    kind: DraftKind
    state: DraftState
    version: int
    created_by: str
    created_at: dt.datetime
    requested_by: str | None
    requested_at: dt.datetime | None
    approved_by: str | None
    approved_at: dt.datetime | None
    sent_version: int | None
    notice_id: int | None
    override_reason: str | None
    discarded_by: str | None
    discarded_at: dt.datetime | None

    @classmethod
    def of(cls, draft: MessageDraft) -> DraftOut:
        return cls(**{name: getattr(draft, name) for name in cls.model_fields})


class VersionOut(BaseModel):
    number: int
    written_by: str
    written_at: dt.datetime
    texts: dict[str, dict[str, str]] = Field(description="texts[lang][subject|email|sms|voice]")

    @classmethod
    def of(cls, version: DraftVersion) -> VersionOut:
        return cls(
            number=version.number,
            written_by=version.written_by,
            written_at=version.written_at,
            texts={lang: dict(parts) for lang, parts in version.texts.items()},
        )


class DraftDetail(DraftOut):
    """The draft with every version (oldest first) and the auditor's findings on
    the current one, per language, read as a real affected customer receives it."""

    versions: list[VersionOut]
    blocked: bool = Field(description="Whether the auditor blocks any language.")
    findings: dict[str, dict[str, Any]] = Field(
        description="Per language: the report of `POST /audit` (blocked, worst, findings…)."
    )

    @classmethod
    def with_findings(cls, draft: MessageDraft, reports: Mapping[str, Report]) -> DraftDetail:
        return cls(
            **DraftOut.of(draft).model_dump(),
            versions=[VersionOut.of(v) for v in draft.versions],
            blocked=any(r.blocked for r in reports.values()),
            findings={lang: r.to_dict() for lang, r in reports.items()},
        )


class SmsOut(BaseModel):
    text: str = Field(description="As the SMS channel sends it (cut to the segment limit).")
    cut: bool
    segments: int
    encoding: str = Field(description="GSM-7 or UCS-2.")
    limit: int


class PreviewOut(BaseModel):
    """Exactly what one customer receives from the draft's current version."""

    customer: str = Field(description="The customer's external id.")
    name: str
    channel: str
    lang: str
    subject: str
    text: str
    html: str
    sms: SmsOut
    voice: str

    @classmethod
    def of(cls, shown: Preview) -> PreviewOut:
        message = shown.message
        return cls(
            customer=shown.external_id,
            name=shown.name,
            channel=shown.channel,
            lang=message.lang,
            subject=message.subject,
            text=message.text,
            html=message.html,
            sms=SmsOut(**vars(shown.sms)),
            voice=message.voice,
        )


class SentOut(BaseModel):
    draft: DraftOut
    notice_id: int
    deliveries: int = Field(description="Ledger rows written (customers × their channels).")
    overridden: list[str] = Field(description="Languages the auditor blocked, sent on a reason.")
    findings: dict[str, dict[str, Any]]

    @classmethod
    def of(
        cls, draft: MessageDraft, notice_id: int, deliveries: int, reports: Mapping[str, Report]
    ) -> SentOut:
        return cls(
            draft=DraftOut.of(draft),
            notice_id=notice_id,
            deliveries=deliveries,
            overridden=sorted(lang for lang, r in reports.items() if r.blocked),
            findings={lang: r.to_dict() for lang, r in reports.items()},
        )
