"""``amends intake …`` and the draft commands of ``amends incident``
(``list --drafts``, ``publish``, ``discard``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from amends.cli.context import JsonOption, console, emit, state
from amends.cli.incidents import SendOption, _show, after
from amends.intake import rules as intake_rules
from amends.intake import service
from amends.intake.models import DraftState
from amends.intake.schemas import DraftOut

app = typer.Typer(no_args_is_help=True, help="Intake from monitoring: rules and drafts.")


def _render_draft(data: dict[str, Any]) -> None:
    incident = f" → incident #{data['incident_id']}" if data["incident_id"] else ""
    suggested = data["resolution_suggested_at"]
    console.print(
        f"[bold]draft {data['id']}: {data['title']}[/] · {data['state']}{incident} · "
        f"{data['source']} · started {data['started_at']}",
        highlight=False,
    )
    console.print(
        "components: " + ", ".join(f"{k} ({v})" for k, v in data["components"].items()),
        highlight=False,
    )
    if suggested:
        console.print(f"[yellow]resolution suggested[/] at {suggested}: every alert resolved")
    table = Table("fingerprint", "status", "rule", "severity", "components", "received")
    for alert in data["alerts"]:
        table.add_row(
            alert["fingerprint"],
            alert["status"],
            alert["rule"],
            alert["severity"],
            ", ".join(alert["components"]),
            str(alert["received"]),
        )
    console.print(table)


def list_drafts(
    ctx: typer.Context, state_filter: DraftState | None, limit: int, as_json: bool
) -> None:
    """``amends incident list --drafts``: drafts waiting for a decision (or all)."""
    with state(ctx).reading() as session:
        drafts = service.list_drafts(session=session, state=state_filter, limit=limit)
        data = [DraftOut.of(d).model_dump(mode="json", exclude={"alerts"}) for d in drafts]

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("draft", "state", "title", "components", "firing", "started", "incident")
        for r in rows:
            firing = str(r["firing"]) + (
                " (resolution suggested)" if r["resolution_suggested_at"] else ""
            )
            table.add_row(
                str(r["id"]),
                r["state"],
                r["title"],
                ", ".join(f"{k} ({v})" for k, v in r["components"].items()),
                firing,
                r["started_at"],
                str(r["incident_id"] or ""),
            )
        console.print(table)

    emit(data, as_json=as_json, render=render)


def publish(
    ctx: typer.Context,
    draft_id: int = typer.Argument(..., help="The draft's id (amends incident list --drafts)."),
    title: str = typer.Option(None, help="What customers read (default: the draft's title)."),
    message: str = typer.Option(None, help="First timeline entry (default: the title)."),
    description: str = typer.Option("", help="What customers see."),
    send: bool = SendOption,
    as_json: bool = JsonOption,
) -> None:
    """Publish a draft from monitoring: the incident opens and its first notice is owed now."""
    with state(ctx).session() as session:
        _, incident, notice = service.publish(
            session=session,
            draft_id=draft_id,
            title=title,
            message=message,
            description=description,
            by="cli",
        )
        incident_id = incident.id
    if not as_json:
        console.print(f"draft {draft_id} published as incident #{incident_id}", highlight=False)
    after(ctx, incident_id, notice, send=send, as_json=as_json)
    _show(incident_id, ctx, as_json)


def discard(
    ctx: typer.Context,
    draft_id: int = typer.Argument(..., help="The draft's id."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why it is not an incident."),
    as_json: bool = JsonOption,
) -> None:
    """Discard a draft: never published; its alerts update it silently until they resolve."""
    with state(ctx).session() as session:
        draft = service.discard(session=session, draft_id=draft_id, reason=reason)
        data = DraftOut.of(draft).model_dump(mode="json")
    emit(data, as_json=as_json, render=_render_draft)


@app.command("show")
def show(ctx: typer.Context, draft_id: int, as_json: bool = JsonOption) -> None:
    """A draft with each of its alerts."""
    with state(ctx).reading() as session:
        data = DraftOut.of(service.get_draft(session=session, draft_id=draft_id)).model_dump(
            mode="json"
        )
    emit(data, as_json=as_json, render=_render_draft)


@app.command("rules")
def rules(
    ctx: typer.Context,
    file: Path = typer.Option(
        None, "--file", "-f", help="Check this file instead of the one in force."
    ),
    as_json: bool = JsonOption,
) -> None:
    """The intake rules in force (intake_rules_file, else the built-in one), or check a file."""
    path = file or state(ctx).settings.intake_rules_file
    ruleset = intake_rules.load(path)
    data = ruleset.model_dump(mode="json")

    def render(data: dict[str, Any]) -> None:
        console.print(
            f"rules from [bold]{path or 'built-in defaults'}[/] · severity label "
            f"{data['severity_label']!r} · other severities: {data['default_status']}",
            highlight=False,
        )
        console.print(
            "status by severity: "
            + ", ".join(f"{k} → {v}" for k, v in data["status_by_severity"].items()),
            highlight=False,
        )
        table = Table("rule", "matchers", "components", "status", "publish", "resolve")
        for rule in data["rules"]:
            where = list(rule["components"])
            if rule["component_label"]:
                where.append(f"label {rule['component_label']}")
            status = rule["status"] or (
                ", ".join(f"{k}→{v}" for k, v in rule["status_by_severity"].items())
                or "by severity"
            )
            table.add_row(
                rule["name"],
                "\n".join(rule["matchers"]) or "(every alert)",
                ", ".join(where),
                status,
                ", ".join(rule["publish"]),
                "yes" if rule["resolve"] else "no",
            )
        console.print(table)

    emit(data, as_json=as_json, render=render)
