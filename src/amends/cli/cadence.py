"""``amends cadence``: what customers are owed now — first notices, updates, apologies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from amends.cli.context import JsonOption, console, emit, state
from amends.db import utcnow
from amends.incidents import cadence
from amends.incidents import service as incident_service
from amends.incidents.models import IncidentKind


def _render(rows: list[dict[str, Any]]) -> None:
    table = Table("incident", "owed", "due (UTC)", "state", title="cadence")
    for row in rows:
        state_text = "[bold red]OVERDUE[/]" if row["overdue"] else "due"
        table.add_row(
            f"#{row['incident_id']} {escape(row['title'])}",
            row["notice"],
            row["due_at"],
            state_text,
        )
    console.print(table)


def cadence_command(
    ctx: typer.Context,
    first_notice: int = typer.Option(15, help="Minutes from opening to the first notice."),
    update_every: int = typer.Option(30, help="Minutes between updates until resolved."),
    apology_within: int = typer.Option(48, help="Hours from resolution to the apology."),
    overdue_only: bool = typer.Option(False, "--overdue", help="Only what is late; exit 1 if any."),
    as_json: bool = JsonOption,
) -> None:
    """What each incident owes its customers now (from the customer-facing timeline)."""
    policy = cadence.CadencePolicy(
        dt.timedelta(minutes=first_notice),
        dt.timedelta(minutes=update_every),
        dt.timedelta(hours=apology_within),
    )
    now = utcnow()
    with state(ctx).reading() as session:
        incidents = incident_service.list_incidents(
            session=session, kind=IncidentKind.incident, limit=500
        )
        owed = cadence.due_now(incidents=incidents, now=now, policy=policy)
        rows = [
            {
                "incident_id": incident.id,
                "title": incident.title,
                "notice": item.notice.value,
                "due_at": item.due_at.isoformat(),
                "overdue": item.overdue,
            }
            for incident, item in owed
            if item.overdue or not overdue_only
        ]
    emit(rows, as_json=as_json, render=_render)
    if overdue_only and rows:
        raise typer.Exit(1)
