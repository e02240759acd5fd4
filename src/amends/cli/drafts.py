"""``amends draft …``: drafted notices from the command line, as the console and
the API do them — list, start from a kind, show (texts and the auditor's
findings), edit one part, ask, preview for a customer, send, discard.

Thin: the drafts service, ``review`` and ``flows.send_draft``, the same calls
the console makes, with the same two-person rule (``console_two_person_rule``)
and the same refusal of a blocking finding without ``--override-reason``.
Whoever acts is ``--by`` (``cli`` unless given; ``send`` needs a name), and
every write is in the audit log like the console's.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from amends import flows
from amends.cli.context import JsonOption, console, emit, err_console, state
from amends.config import Settings
from amends.errors import ValidationFailed
from amends.incidents import service as incident_service
from amends.messages.drafts import review
from amends.messages.drafts import service as drafts_service
from amends.messages.drafts.models import LANGUAGES, PARTS, DraftKind, MessageDraft
from amends.messages.drafts.schemas import DraftDetail, DraftOut, PreviewOut, SentOut

app = typer.Typer(no_args_is_help=True, help="Notices written by hand: draft, review, send.")
ACTOR = "cli"
_COLOURS = {"pass": "green", "info": "blue", "warn": "yellow", "block": "bold red"}

ByOption = typer.Option(ACTOR, "--by", help="Who is acting (recorded; the two-person rule).")


def _detail(session: Session, settings: Settings, draft: MessageDraft) -> dict[str, Any]:
    reports = review.findings(
        session=session,
        incident_id=draft.incident_id,
        texts=draft.current.texts,
        company=settings.notice_sender,
        public_url=settings.public_url,
    )
    return DraftDetail.with_findings(draft, reports).model_dump(mode="json")


def _render_list(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("no drafts")
        return
    table = Table("id", "kind", "state", "version", "created by", "asked by", "sent by")
    for row in rows:
        table.add_row(
            str(row["id"]), row["kind"], row["state"], str(row["version"]),
            escape(row["created_by"]), escape(row["requested_by"] or "—"),
            escape(row["approved_by"] or "—"),
        )  # fmt: skip
    console.print(table)


def _render_state(data: dict[str, Any]) -> None:
    console.print(
        f"[bold]draft #{data['id']}[/] (incident #{data['incident_id']}, {data['kind']}): "
        f"{data['state']}, version {data['version']}"
    )
    for label, key in (
        ("created by", "created_by"),
        ("asked by", "requested_by"),
        ("sent by", "approved_by"),
        ("notice", "notice_id"),
        ("override", "override_reason"),
        ("discarded by", "discarded_by"),
    ):
        if data.get(key):
            console.print(f"{label}: {escape(str(data[key]))}")


def _render_detail(data: dict[str, Any]) -> None:
    _render_state(data)
    current = data["versions"][-1]
    console.print(f"version {current['number']} by {escape(current['written_by'])}")
    for lang in LANGUAGES:
        for part in PARTS:
            console.rule(f"{lang} · {part}")
            console.print(escape(current["texts"][lang][part]), highlight=False)
        report = data["findings"][lang]
        table = Table("rule", "verdict", "evidence", "fix", title=f"auditor ({lang})")
        for f in report["findings"]:
            if f["verdict"] == "pass":
                continue
            colour = _COLOURS[f["verdict"]]
            table.add_row(
                f"{f['rule']} {escape(f['title'])}", f"[{colour}]{f['verdict']}[/]",
                escape(f["evidence"]), escape(f["fix"]),
            )  # fmt: skip
        console.print(table)
    if data["blocked"]:
        console.print("[bold red]the auditor blocks this draft[/]: sending needs a reason")


def _render_preview(data: dict[str, Any]) -> None:
    console.print(
        f"[bold]{escape(data['name'])}[/] ({escape(data['customer'])}) · {data['channel']} · "
        f"{data['lang']}"
    )
    if data["channel"] == "email":
        console.print(f"Subject: {escape(data['subject'])}\n", highlight=False)
        console.print(escape(data["text"]), highlight=False)
    elif data["channel"] == "sms":
        sms = data["sms"]
        console.print(escape(sms["text"]), highlight=False)
        plural = "s" if sms["segments"] > 1 else ""
        console.print(f"{sms['segments']} segment{plural}, {sms['encoding']}")
        if sms["cut"]:
            console.print(
                f"[yellow]longer than {sms['limit']} segments: the SMS channel cuts it as shown[/]"
            )
    else:
        console.print(escape(data["voice"]), highlight=False)


def _render_sent(data: dict[str, Any]) -> None:
    _render_state(data["draft"])
    console.print(f"notice {data['notice_id']}: {data['deliveries']} deliveries owed")
    if data["overridden"]:
        console.print(f"[yellow]override recorded for {', '.join(data['overridden'])}[/]")


@app.command("list")
def list_command(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., metavar="INCIDENT"),
    as_json: bool = JsonOption,
) -> None:
    """An incident's drafts, newest first."""
    with state(ctx).session() as session:
        incident_service.get_incident(session=session, incident_id=incident_id)
        rows = drafts_service.list_drafts(session=session, incident_id=incident_id)
        out = [DraftOut.of(d).model_dump(mode="json") for d in rows]
    emit(out, as_json=as_json, render=_render_list)


@app.command("new")
def new(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., metavar="INCIDENT"),
    kind: DraftKind = typer.Option(..., "--kind", help="What it says; starts as the composer's."),
    by: str = ByOption,
    as_json: bool = JsonOption,
) -> None:
    """Start a draft: version 1 is the composer's text of KIND in every language."""
    settings = state(ctx).settings
    with state(ctx).session() as session:
        draft = drafts_service.create(
            session=session, incident_id=incident_id, kind=kind, who=by,
            company=settings.notice_sender, public_url=settings.public_url,
        )  # fmt: skip
        out = _detail(session, settings, draft)
    emit(out, as_json=as_json, render=_render_detail)


@app.command("show")
def show(
    ctx: typer.Context,
    draft_id: int = typer.Argument(..., metavar="ID"),
    as_json: bool = JsonOption,
) -> None:
    """The draft's current texts, every version, and the auditor's findings."""
    settings = state(ctx).settings
    with state(ctx).session() as session:
        out = _detail(session, settings, drafts_service.get(session=session, draft_id=draft_id))
    emit(out, as_json=as_json, render=_render_detail)


def _read(file: str | None) -> str:
    if file is None or file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationFailed(f"{file}: no such file", field="file") from None
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{file}: not UTF-8 text ({exc.reason})", field="file") from None


@app.command("edit")
def edit(
    ctx: typer.Context,
    draft_id: int = typer.Argument(..., metavar="ID"),
    lang: str = typer.Option(..., "--lang", help="es or en."),
    field: str = typer.Option(..., "--field", help="subject, email, sms or voice."),
    file: str = typer.Option(None, "--file", help="The new text (default: standard input)."),
    by: str = ByOption,
    as_json: bool = JsonOption,
) -> None:
    """Replace one part of one language; the rest is kept. A new version, checked
    as a template (refused naming the field); an edit takes back a request."""
    text = _read(file)
    settings = state(ctx).settings
    with state(ctx).session() as session:
        draft = drafts_service.get(session=session, draft_id=draft_id)
        before = draft.version
        texts = drafts_service.edited(draft, {lang: {field: text}})
        draft = drafts_service.save(session=session, draft_id=draft_id, texts=texts, who=by)
        if draft.version == before:
            err_console.print("unchanged: no new version")
        out = _detail(session, settings, draft)
    emit(out, as_json=as_json, render=_render_detail)


@app.command("ask")
def ask(
    ctx: typer.Context,
    draft_id: int = typer.Argument(..., metavar="ID"),
    by: str = ByOption,
    as_json: bool = JsonOption,
) -> None:
    """Ask for the draft to be sent."""
    with state(ctx).session() as session:
        draft = drafts_service.ask(session=session, draft_id=draft_id, who=by)
        out = DraftOut.of(draft).model_dump(mode="json")
    emit(out, as_json=as_json, render=_render_state)


@app.command("preview")
def preview(
    ctx: typer.Context,
    draft_id: int = typer.Argument(..., metavar="ID"),
    customer: str = typer.Option(
        None, "--customer", help="A customer's external id (default: the first affected)."
    ),
    channel: str = typer.Option("email", "--channel", help="email, sms or voice."),
    lang: str = typer.Option(None, "--lang", help="es or en (default: the customer's)."),
    as_json: bool = JsonOption,
) -> None:
    """Exactly what a customer receives on one channel in one language."""
    settings = state(ctx).settings
    with state(ctx).session() as session:
        draft = drafts_service.get(session=session, draft_id=draft_id)
        shown = review.preview(
            session=session, draft=draft, public_url=settings.public_url,
            sms_max_segments=settings.sms_max_segments, customer=customer, channel=channel,
            lang=lang,
        )  # fmt: skip
        out = PreviewOut.of(shown).model_dump(mode="json")
    emit(out, as_json=as_json, render=_render_preview)


@app.command("send")
def send(
    ctx: typer.Context,
    draft_id: int = typer.Argument(..., metavar="ID"),
    by: str = typer.Option(..., "--by", help="Who approves and sends it (recorded)."),
    override_reason: str = typer.Option(
        None, "--override-reason", help="Why send it although the auditor blocks (recorded)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Approve and owe it to every affected customer, once (the worker sends it)."""
    settings = state(ctx).settings
    reason = (override_reason or "").strip() or None
    with state(ctx).session() as session:
        draft, result, reports = flows.send_draft(
            session=session, draft_id=draft_id, who=by, company=settings.notice_sender,
            public_url=settings.public_url, two_person=settings.console_two_person_rule,
            override_reason=reason,
        )  # fmt: skip
        out = SentOut.of(draft, result.notice.id, result.deliveries, reports).model_dump(
            mode="json"
        )
    emit(out, as_json=as_json, render=_render_sent)


@app.command("discard")
def discard(
    ctx: typer.Context,
    draft_id: int = typer.Argument(..., metavar="ID"),
    by: str = ByOption,
    as_json: bool = JsonOption,
) -> None:
    """Never send it."""
    with state(ctx).session() as session:
        draft = drafts_service.discard(session=session, draft_id=draft_id, who=by)
        out = DraftOut.of(draft).model_dump(mode="json")
    emit(out, as_json=as_json, render=_render_state)
