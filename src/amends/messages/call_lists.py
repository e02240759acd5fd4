"""An account manager's call list, as the e-mail and the SMS they receive.

Read when the ledger row is sent, not when it was owed, so the list shows the
calls already recorded by then. Each customer comes with what the manager
needs on the phone (name, number, tier, the affected sites) and with the
command and API call that record how the call went. Staff messages: no
unsubscribe link, a handful of rows per batch, so plain Python formatting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from babel.dates import format_datetime
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from amends import impact
from amends.calls import service as calls
from amends.calls.models import AccountManager
from amends.delivery.channels.base import Message
from amends.messages.segments import fit_sms

if TYPE_CHECKING:  # notices.py imports this module
    from amends.messages.notices import Row, SharedFacts

SITES_SHOWN = 5

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Incident #{incident}: {count} customers to call",
        "hello": "Hello {name},",
        "intro": (
            "{sender} is handling incident #{incident} “{title}” ({components}). "
            "Please phone these {count} customers and tell them what is happening."
        ),
        "deadline": "Customers nobody reaches by {deadline} get an automated call.",
        "tier": "tier",
        "sites": "sites",
        "more": "and {more} more",
        "last": "last call",
        "none": "not called yet",
        "record": "record",
        "api": 'Or through the API: POST {api}/calls/ID/outcome with {{"outcome": "reached"}}',
        "status": "Status page: {url}",
        "sms": (
            "{sender}: incident #{incident} {title}: {count} customers to call before "
            "{deadline}. List sent to {email}."
        ),
    },
    "es": {
        "subject": "Incidencia #{incident}: {count} clientes a los que llamar",
        "hello": "Hola {name}:",
        "intro": (
            "{sender} está gestionando la incidencia #{incident} «{title}» ({components}). "
            "Llame a estos {count} clientes y cuénteles qué está pasando."
        ),
        "deadline": "A quien nadie localice antes de {deadline} le llamará un sistema automático.",
        "tier": "nivel",
        "sites": "sitios",
        "more": "y {more} más",
        "last": "última llamada",
        "none": "sin llamar aún",
        "record": "anotar",
        "api": 'O por la API: POST {api}/calls/ID/outcome con {{"outcome": "reached"}}',
        "status": "Página de estado: {url}",
        "sms": (
            "{sender}: incidencia #{incident} {title}: {count} clientes a los que llamar antes "
            "de las {deadline}. Lista enviada a {email}."
        ),
    },
}
OUTCOMES = {
    "en": {"reached": "reached", "voicemail": "voicemail", "no_answer": "no answer"},
    "es": {"reached": "localizado", "voicemail": "buzón de voz", "no_answer": "no contesta"},
}


def _lang(locale: str) -> str:
    base = locale.split("-")[0].split("_")[0].lower()
    return base if base in WORDS else "en"


class CallListRenderer:
    """Renders ``call_list`` rows (recipient: a manager) into messages."""

    def __init__(self, *, public_url: str, sender: str) -> None:
        self.public_url = public_url.rstrip("/")
        self.sender = sender

    def render(
        self,
        session: Session,
        incident: SharedFacts,
        rows: Sequence[Row],
    ) -> list[Message]:
        managers = {
            m.id: m
            for m in session.scalars(
                select(AccountManager).where(AccountManager.id.in_({r.recipient_id for r in rows}))
            )
        }
        lists = {m.id: self._list(session, incident, m) for m in managers.values()}
        return [self.message(incident, r, managers.get(r.recipient_id), lists) for r in rows]

    def _list(self, session: Session, incident: SharedFacts, manager: AccountManager) -> list[dict]:  # type: ignore[type-arg]
        entries = calls.call_list(
            session=session, incident_id=incident.incident_id, manager_email=manager.email
        )
        ids = [int(e["customer_id"]) for e in entries]
        sites: dict[int, list[str]] = {}
        if ids and incident.windows:
            for customer_id, domain in session.execute(
                impact.affected_domains(list(incident.windows), ids)
            ):
                sites.setdefault(customer_id, []).append(domain)
        for entry, customer_id in zip(entries, ids, strict=True):
            entry["sites"] = sites.get(customer_id, [])
        return entries

    def message(
        self,
        incident: SharedFacts,
        row: Row,
        manager: AccountManager | None,
        lists: dict[int, list[dict]],  # type: ignore[type-arg]
    ) -> Message:
        lang = _lang(row.locale)
        w = WORDS[lang]
        entries = lists.get(row.recipient_id, [])
        deadlines = [
            e["escalate_at"] for e in entries if e["escalate_at"] and not e["escalated_at"]
        ]
        deadline = _when(min(deadlines), lang) if deadlines else "—"
        facts = {
            "incident": incident.incident_id,
            "title": incident.title,
            "components": incident.components,
            "count": len(entries),
            "sender": self.sender,
            "deadline": deadline,
            "name": manager.name if manager else "",
            "email": manager.email if manager else "",
            "api": f"{self.public_url}/api/v1",
            "url": f"{self.public_url}/incidents/{incident.incident_id}",
        }
        common = {
            "delivery_id": row.delivery_id,
            "key": f"{row.notice_id}.{row.delivery_id}",
            "address": row.address or "",
            "locale": lang,
            "name": facts["name"],
        }
        if row.channel == "sms":
            command = f"amends calls list {facts['incident']} --manager {facts['email']}"
            return Message(**common, text=fit_sms(w["sms"].format(**facts), command))
        lines = [
            w["hello"].format(**facts),
            "",
            w["intro"].format(**facts),
            w["deadline"].format(**facts),
            "",
        ]
        for n, entry in enumerate(entries, 1):
            lines.append(f"{n}. {self._line(entry, lang)}")
            lines.append(
                f"   {w['record']}: amends calls record {entry['id']} reached|voicemail|no_answer"
            )
        lines += ["", w["api"].format(**facts), w["status"].format(**facts)]
        text = "\n".join(lines) + "\n"
        html = "".join(f"<p>{escape(line)}</p>" if line else "" for line in text.splitlines())
        return Message(
            **common,
            subject=w["subject"].format(**facts),
            text=text,
            html=f"<!doctype html><html><body>{html}</body></html>",
        )

    def _line(self, entry: dict, lang: str) -> str:  # type: ignore[type-arg]
        w = WORDS[lang]
        shown = entry["sites"][:SITES_SHOWN]
        sites = ", ".join(shown)
        if len(entry["sites"]) > len(shown):
            sites += " " + w["more"].format(more=len(entry["sites"]) - len(shown))
        last = OUTCOMES[lang][str(entry["outcome"])] if entry["outcome"] else w["none"]
        return (
            f"{entry['name']} · {entry['phone'] or '—'} · {w['tier']} {entry['tier']} · "
            f"{w['sites']}: {sites or '—'} · {w['last']}: {last}"
        )


def _when(value: dt.datetime, lang: str) -> str:
    return format_datetime(value, "d MMM y HH:mm zzz", tzinfo=dt.UTC, locale=lang)
