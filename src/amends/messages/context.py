"""What every form of a message is built from: the input, and named sections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from amends.messages import blocks as b
from amends.messages.i18n import Speaker
from amends.messages.inputs import CreditOffer, NoticeFacts, Recipient, TrackRecord


@dataclass(frozen=True)
class Section:
    name: str
    lines: tuple[str, ...]
    heading: str = ""
    bullets: bool = False

    @property
    def text(self) -> str:
        body = (
            "\n".join(f"- {line}" for line in self.lines) if self.bullets else " ".join(self.lines)
        )
        return f"{self.heading}\n{body}" if self.heading else body


@dataclass(frozen=True)
class Context:
    s: Speaker
    facts: NoticeFacts
    customer: Recipient
    sites: Sequence[str]
    credit: CreditOffer | None
    track_record: TrackRecord | None

    def t(self, text: b.Text) -> str:
        return b._t(self.s, text)


def section(name: str, *lines: str, heading: str = "", bullets: bool = False) -> Section:
    return Section(name, tuple(line for line in lines if line), heading, bullets)
