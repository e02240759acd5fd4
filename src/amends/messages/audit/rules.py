"""The rule table of domain-research §3.4, one small function per rule.

Each rule reads a :class:`~.draft.Draft` and returns one finding, or ``None``
when it does not apply to this kind of message. Order here is the order of
the report: what an apology must contain, then what no message may contain.
"""

from __future__ import annotations

from collections.abc import Callable

from amends.messages.audit.draft import APOLOGY, BREACH, OWNING_KINDS, Draft
from amends.messages.audit.forbidden import (
    agentless_passive,
    blame,
    conditional,
    minimising,
    reassurance,
    sorry_but,
    track_record,
    upsell,
)
from amends.messages.audit.report import Finding
from amends.messages.audit.required import (
    empathy,
    explanation,
    forgiveness,
    instructions,
    plain_language,
    prevention,
    regret,
    repair,
    responsibility,
    senior_signatory,
)

__all__ = ["APOLOGY", "BREACH", "OWNING_KINDS", "RULES", "Draft"]

RULES: tuple[Callable[[Draft], Finding | None], ...] = (
    responsibility,
    repair,
    regret,
    explanation,
    prevention,
    forgiveness,
    agentless_passive,
    conditional,
    sorry_but,
    blame,
    minimising,
    upsell,
    reassurance,
    track_record,
    instructions,
    empathy,
    plain_language,
    senior_signatory,
)
