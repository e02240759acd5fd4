"""A sent draft's ledger rows as messages: the drafted text, filled per customer.

Called by the notice renderer (``messages/notices.py``) for notices of kind
``draft``. A batch costs three queries whatever its size — the draft's sent
version, the customers' names, their affected sites — and one sandboxed
render per text (the templates are compiled once per process).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends import impact
from amends.catalog.models import Customer
from amends.delivery.channels.base import Message
from amends.delivery.models import Notice
from amends.messages.drafts import rendering
from amends.messages.drafts.models import DraftVersion, MessageDraft


class LedgerRow(Protocol):
    delivery_id: int
    notice_id: int
    recipient_kind: str
    recipient_id: int
    channel: str
    address: str | None
    locale: str


def sent_texts(session: Session, notice_id: int) -> dict[str, Any]:
    """The texts of the version that was approved for this notice."""
    notice = session.get(Notice, notice_id)
    assert notice is not None, notice_id
    draft = session.get(MessageDraft, notice.update_key)
    if draft is None or draft.sent_version is None:
        raise LookupError(f"notice {notice_id} names no sent draft")
    version = session.scalar(
        select(DraftVersion).where(
            DraftVersion.draft_id == draft.id, DraftVersion.number == draft.sent_version
        )
    )
    assert version is not None, (draft.id, draft.sent_version)
    return version.texts


def render_rows(
    session: Session,
    notice_id: int,
    windows: Sequence[impact.Window],
    rows: Sequence[LedgerRow],
    unsubscribe_url: Callable[[LedgerRow], str | None],
) -> list[Message]:
    """One message per row of one draft notice, in order."""
    texts = sent_texts(session, notice_id)
    ids = [r.recipient_id for r in rows if r.recipient_kind == "customer"]
    names: dict[int, str] = {}
    sites: dict[int, list[str]] = {}
    if ids:
        names = dict(
            session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids))).all()
        )
        if windows:
            for customer_id, domain in session.execute(impact.affected_domains(list(windows), ids)):
                sites.setdefault(customer_id, []).append(domain)
    made = []
    for row in rows:
        lang = "es" if row.locale.lower().startswith("es") else "en"
        unsubscribe = unsubscribe_url(row) if row.channel == "email" else None
        filled = rendering.personal(
            texts,
            lang,
            name=names.get(row.recipient_id, ""),
            sites=sites.get(row.recipient_id, []),
            unsubscribe=unsubscribe,
        )
        common: dict[str, Any] = {
            "delivery_id": row.delivery_id,
            "key": f"{row.notice_id}.{row.delivery_id}",
            "address": row.address or "",
            "locale": lang,
            "name": names.get(row.recipient_id, ""),
            "variant": "",  # every customer's text is their own
        }
        if row.channel == "email":
            made.append(
                Message(
                    **common,
                    subject=filled.subject,
                    text=filled.text,
                    html=filled.html,
                    unsubscribe_url=unsubscribe,
                )
            )
        else:
            text = filled.voice if row.channel == "voice" else filled.sms
            made.append(Message(**common, text=text, subject=filled.subject))
    return made
