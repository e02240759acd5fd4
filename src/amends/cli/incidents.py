"""``amends incident …`` and ``amends impact``."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from amends import flows
from amends.cadence import service as cadence_service
from amends.cadence.schemas import IncidentDetail
from amends.catalog.records import parse_time
from amends.cli.cadence import (
    ApologyWithinOption,
    AutoHoldingOption,
    FirstNoticeOption,
    UpdateEveryOption,
    policy_changes,
    render_cadence,
)
from amends.cli.context import AppState, JsonOption, console, emit, state
from amends.cli.deliveries import send_inline
from amends.cli.lazy import Lazy, LazyGroup
from amends.delivery import slices
from amends.delivery.models import NoticeKind
from amends.delivery.service import NoticeResult
from amends.errors import ValidationFailed
from amends.impact import export as impact_export
from amends.impact import summary as impact_summary
from amends.incidents import service
from amends.incidents.models import ComponentStatus, Impact, IncidentKind, IncidentStatus
from amends.incidents.schemas import IncidentOut
from amends.intake.models import DraftState

#: Incident commands that live with their own concept (imported when run, see lazy.py).
ELSEWHERE = (
    Lazy("facts", "amends.cli.facts:facts",
         "Record an incident's facts and data-exposure assessment; with no option, show them."),
    Lazy("publish", "amends.cli.intake:publish",
         "Publish a draft from monitoring: the incident opens and its first notice is owed now."),
    Lazy("discard", "amends.cli.intake:discard",
         "Discard a draft: never published; its alerts update it silently until they resolve."),
    Lazy("cadence", "amends.cli.cadence:policy_command",
         "Show or change an incident's cadence policy (what is not given is kept)."),
)  # fmt: skip

app = typer.Typer(
    cls=LazyGroup.of(ELSEWHERE),
    no_args_is_help=True,
    help="Incidents and scheduled maintenance.",
)

ComponentsOption = typer.Option(
    None,
    "--component",
    "-c",
    help="KEY=STATUS, repeatable; STATUS is degraded_performance, partial_outage, "
    "major_outage or under_maintenance (default major_outage).",
)


def _time(value: str | None, field: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field=field) from None


def _component_statuses(items: list[str] | None) -> dict[str, ComponentStatus]:
    result: dict[str, ComponentStatus] = {}
    for item in items or []:
        key, _, status = item.partition("=")
        try:
            result[key.strip()] = ComponentStatus(status.strip() or "major_outage")
        except ValueError:
            choices = ", ".join(s.value for s in ComponentStatus)
            raise ValidationFailed(
                f"{item!r}: unknown status (one of {choices})", field="component"
            ) from None
    return result


NotifyOption = typer.Option(
    True, "--notify/--no-notify", help="Owe the affected customers and subscribers a notice."
)
SendOption = typer.Option(
    False, "--send", help="Send the notice from this process now, with a progress bar."
)


def after(
    ctx: typer.Context, incident_id: int, notice: NoticeResult | None, *, send: bool, as_json: bool
) -> None:
    """After the commit: say what is owed, and send it or hand it to workers."""
    if notice is None:
        return
    app = state(ctx)
    if not as_json:
        rest = " (first slice; the rest is written after it is sent)"
        console.print(
            f"notice #{notice.notice.id} ({notice.notice.kind}): "
            f"{notice.deliveries:,} deliveries owed{rest if notice.notice.rows_from else ''}",
            highlight=False,
        )
    dispatch_after(app, incident_id, send=send, quiet=as_json)


def dispatch_after(app: AppState, incident_id: int, *, send: bool, quiet: bool) -> None:
    """Send what the incident owes from this process (``--send``), or hand it
    to the workers (distributed), or say how it will go."""
    if send:
        send_inline(app, incident_id, quiet=quiet)
    elif app.settings.dispatch == "distributed":
        from amends.delivery.jobs import enqueue_now

        enqueue_now(app.settings)
    elif not quiet:
        console.print(
            f"send them: [bold]amends deliveries send {incident_id}[/] "
            "(or keep `amends serve` running)",
            highlight=False,
        )


def _render_incident(data: dict[str, Any]) -> None:
    resolved = data["resolved_at"] or "ongoing"
    console.print(
        f"[bold]#{data['id']} {data['title']}[/] · {data['kind']} · [bold]{data['status']}[/] · "
        f"impact {data['impact']}\nstarted {data['started_at']} · resolved {resolved}"
    )
    if data["components"]:
        console.print(
            "components: " + ", ".join(f"{c['key']} ({c['status']})" for c in data["components"])
        )
    table = Table("at (UTC)", "status", "message", "component changes", title="timeline")
    for update in data["updates"]:
        changes = ", ".join(f"{c['component']}→{c['status']}" for c in update["component_changes"])
        table.add_row(str(update["at"]), update["status"], update["message"], changes)
    console.print(table)
    render_cadence(data.get("cadence"))


def _show(incident_id: int, ctx: typer.Context, as_json: bool) -> None:
    with state(ctx).session() as session:
        incident = service.get_incident(session=session, incident_id=incident_id)
        found = cadence_service.standing(session=session, incident_id=incident_id)
        data = IncidentDetail.with_cadence(incident, found).model_dump(mode="json")
    emit(data, as_json=as_json, render=_render_incident)


@app.command("open")
def open_incident(
    ctx: typer.Context,
    title: str,
    component: list[str] = ComponentsOption,
    impact: Impact = typer.Option(None, help="Default: from the worst component status."),
    started_at: str = typer.Option(None, help="ISO 8601 with offset; default now."),
    description: str = typer.Option("", help="What customers see."),
    message: str = typer.Option(None, help="First timeline entry (default: the description)."),
    notify: bool = NotifyOption,
    first_notice: int = FirstNoticeOption,
    update_every: int = UpdateEveryOption,
    apology_within: int = ApologyWithinOption,
    auto_holding: bool = AutoHoldingOption,
    send: bool = SendOption,
    as_json: bool = JsonOption,
) -> None:
    """Declare an incident on one or more components; the affected are owed a first notice.

    Its cadence policy (first notice, updates, apology) is the default unless given."""
    with state(ctx).session() as session:
        incident, notice = flows.open_incident(
            session=session,
            notify=notify,
            cadence=policy_changes(first_notice, update_every, apology_within, auto_holding),
            # with --send, the first messages leave before the whole ledger is written
            first_slice=slices.FIRST_SLICE if send else None,
            title=title,
            components=_component_statuses(component),
            impact=impact,
            started_at=_time(started_at, "started_at"),
            description=description,
            message=message,
        )
        incident_id = incident.id
    after(ctx, incident_id, notice, send=send, as_json=as_json)
    _show(incident_id, ctx, as_json)


@app.command("update")
def update_incident(
    ctx: typer.Context,
    incident_id: int,
    status: IncidentStatus = typer.Option(..., "--status", "-s"),
    message: str = typer.Option(..., "--message", "-m"),
    component: list[str] = ComponentsOption,
    at: str = typer.Option(None, help="When it happened (ISO 8601 with offset); default now."),
    notify: bool = typer.Option(
        True, "--notify/--no-notify", help="Customer-facing (a notice goes out) or internal note."
    ),
    send: bool = SendOption,
    as_json: bool = JsonOption,
) -> None:
    """Post an update; component statuses may change with it."""
    with state(ctx).session() as session:
        _, notice = flows.post_update(
            session=session,
            incident_id=incident_id,
            status=status,
            message=message,
            components=_component_statuses(component),
            at=_time(at, "at"),
            notify=notify,
        )
    after(ctx, incident_id, notice, send=send, as_json=as_json)
    _show(incident_id, ctx, as_json)


@app.command("resolve")
def resolve_incident(
    ctx: typer.Context,
    incident_id: int,
    message: str = typer.Option(..., "--message", "-m"),
    resolved_at: str = typer.Option(None, help="ISO 8601 with offset; default now."),
    notify: bool = NotifyOption,
    send: bool = SendOption,
    as_json: bool = JsonOption,
) -> None:
    """Resolve an incident (or complete a maintenance); the affected are owed a notice."""
    with state(ctx).session() as session:
        _, notice = flows.resolve(
            notify=notify,
            session=session,
            incident_id=incident_id,
            message=message,
            resolved_at=_time(resolved_at, "resolved_at"),
        )
    after(ctx, incident_id, notice, send=send, as_json=as_json)
    _show(incident_id, ctx, as_json)


@app.command("apologise")
def apologise(
    ctx: typer.Context,
    incident_id: int,
    breach: bool = typer.Option(
        False, "--breach", help="The breach notice instead (exposure confirmed)."
    ),
    override_by: str = typer.Option(None, help="Who sends it despite a blocking finding."),
    reason: str = typer.Option(None, help="Why (recorded with the override)."),
    send: bool = SendOption,
    as_json: bool = JsonOption,
) -> None:
    """Owe the affected customers the seven-step apology, audited first in each language.

    Each customer's message is composed when it is sent: their sites, their
    credit, the measured track record, their language. A blocking finding
    refuses it unless --override-by and --reason are given.
    """
    settings = state(ctx).settings
    with state(ctx).session() as session:
        notice, reports = flows.apologise(
            session=session,
            incident_id=incident_id,
            company=settings.notice_sender,
            public_url=settings.public_url,
            override_by=override_by,
            override_reason=reason,
            kind=NoticeKind.breach if breach else NoticeKind.apology,
        )
    if not as_json:
        for lang, report in reports.items():
            found = sum(1 for step in report.steps if step.present)
            console.print(
                f"audit ({lang}): {found} of 7 steps; worst finding: {report.worst.value}",
                highlight=False,
            )
    after(ctx, incident_id, notice, send=send, as_json=as_json)
    if as_json:
        emit({lang: r.to_dict() for lang, r in reports.items()}, as_json=True, render=print)


@app.command("maintenance")
def schedule_maintenance(
    ctx: typer.Context,
    title: str,
    starts_at: str = typer.Option(..., help="ISO 8601 with offset."),
    ends_at: str = typer.Option(..., help="ISO 8601 with offset."),
    component: list[str] = typer.Option(..., "--component", "-c"),
    description: str = typer.Option(""),
    as_json: bool = JsonOption,
) -> None:
    """Schedule a maintenance window."""
    starts, ends = _time(starts_at, "starts_at"), _time(ends_at, "ends_at")
    assert starts is not None and ends is not None
    with state(ctx).session() as session:
        incident = service.schedule_maintenance(
            session=session,
            title=title,
            components=component,
            starts_at=starts,
            ends_at=ends,
            description=description,
        )
        incident_id = incident.id
    _show(incident_id, ctx, as_json)


@app.command("show")
def show_incident(ctx: typer.Context, incident_id: int, as_json: bool = JsonOption) -> None:
    """An incident with its components, timeline, and what its customers are owed next."""
    _show(incident_id, ctx, as_json)


@app.command("list")
def list_incidents(
    ctx: typer.Context,
    kind: IncidentKind = typer.Option(None),
    open_only: bool = typer.Option(False, "--open", help="Only unresolved ones."),
    limit: int = typer.Option(50, min=1, max=1000),
    drafts: bool = typer.Option(
        False, "--drafts", help="Drafts from monitoring waiting to be published, instead."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Incidents, newest first (or, with --drafts, the drafts monitoring opened)."""
    if drafts:
        from amends.cli import intake  # it imports this module

        intake.list_drafts(ctx, DraftState.draft, limit, as_json)
        return
    with state(ctx).session() as session:
        rows = service.list_incidents(session=session, kind=kind, open_only=open_only, limit=limit)
        data = [
            IncidentOut.of(i).model_dump(mode="json", exclude={"updates", "description"})
            for i in rows
        ]

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("id", "kind", "title", "status", "impact", "started", "resolved")
        for r in rows:
            table.add_row(
                str(r["id"]),
                r["kind"],
                r["title"],
                r["status"],
                r["impact"],
                r["started_at"],
                r["resolved_at"] or "",
            )
        console.print(table)

    emit(data, as_json=as_json, render=render)


def render_summary(data: dict[str, Any]) -> None:
    console.print(
        f"[bold]incident #{data['incident_id']}[/]: {data['sites']:,} sites of "
        f"{data['customers']:,} customers affected "
        f"({data['window_start']} → {data['window_end']}"
        f"{', ongoing' if data['ongoing'] else ''})"
    )
    for title, key in (
        ("component", "by_component"),
        ("tier", "by_tier"),
        ("locale", "by_locale"),
        ("channel", "by_channel"),
    ):
        table = Table(title, "count")
        for name, count in data[key].items():
            table.add_row(name, f"{count:,}")
        console.print(table)


def impact(
    ctx: typer.Context,
    incident_id: int,
    export: Path = typer.Option(
        None, "--export", help="Write the affected sites to this file ('-' for stdout)."
    ),
    fmt: str = typer.Option("csv", "--format", help="csv or jsonl, for --export."),
    as_json: bool = JsonOption,
) -> None:
    """Who is hit by an incident: counts, and optionally every affected site."""
    if fmt not in ("csv", "jsonl"):
        raise ValidationFailed("--format must be csv or jsonl", field="format")
    with state(ctx).reading() as session:
        incident = service.get_incident(session=session, incident_id=incident_id)
        if export is not None:
            if str(export) == "-":
                impact_export.export(session=session, incident=incident, out=sys.stdout, fmt=fmt)  # type: ignore[arg-type]
                return
            with export.open("w", encoding="utf-8", newline="") as out:
                count = impact_export.export(
                    session=session,
                    incident=incident,
                    out=out,
                    fmt=fmt,  # type: ignore[arg-type]
                )
            console.print(f"wrote {count:,} affected sites to {export}", highlight=False)
            return
        data = impact_summary.summarize(session=session, incident=incident).model_dump(mode="json")
    emit(data, as_json=as_json, render=render_summary)
