"""``amends cadence`` (what customers are owed now), ``amends incident cadence ID``
(an incident's own policy), and the cadence lines of ``amends incident show``."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from amends.cadence import holding
from amends.cadence import service as cadence_service
from amends.cadence.schemas import PolicyOut, describe
from amends.cli.context import JsonOption, console, emit, state
from amends.db import session_factory, utcnow
from amends.incidents import cadence_policy
from amends.incidents import service as incident_service

FirstNoticeOption = typer.Option(
    None, "--first-notice-within", help="Minutes from opening to the first notice (default 15)."
)
UpdateEveryOption = typer.Option(
    None, "--update-every", help="Minutes between updates until resolved (default 30)."
)
ApologyWithinOption = typer.Option(
    None, "--apology-within", help="Hours from resolution to the apology (default 48)."
)
AutoHoldingOption = typer.Option(
    None,
    "--auto-holding-update/--no-auto-holding-update",
    help="Let amends post a holding update when an update is overdue (default off).",
)


def policy_changes(
    first_notice: int | None, update_every: int | None, apology: int | None, auto: bool | None
) -> dict[str, int | bool | None]:
    """CLI options → ``cadence_policy.set_policy`` arguments."""
    return {
        "first_notice_minutes": first_notice,
        "update_minutes": update_every,
        "apology_hours": apology,
        "auto_holding_update": auto,
    }


def render_cadence(data: dict[str, Any] | None) -> None:
    """The cadence part of ``amends incident show``."""
    if not data:
        return
    p = data["policy"]
    console.print(
        f"cadence: first notice within {p['first_notice_within_minutes']} min · update every "
        f"{p['update_every_minutes']} min · apology within {p['apology_within_hours']} h"
        f"{' · automatic holding updates' if p['auto_holding_update'] else ''}",
        highlight=False,
    )
    for due in data["due"]:
        colour = "bold red" if due["overdue"] else "bold"
        console.print(f"  [{colour}]{escape(due['text'])}[/]", highlight=False)
    if not data["due"]:
        console.print("  nothing owed", highlight=False)
    r = data["record"]
    console.print(
        "  record: first notice after "
        + ", longest gap between updates ".join(
            _as_span(r[k]) for k in ("time_to_first_notice", "longest_update_gap")
        )
        + f", apology after {_as_span(r['time_to_apology'])}",
        highlight=False,
    )


def _as_span(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    minutes = seconds // 60
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def policy_command(
    ctx: typer.Context,
    incident_id: int,
    first_notice: int = FirstNoticeOption,
    update_every: int = UpdateEveryOption,
    apology_within: int = ApologyWithinOption,
    auto_holding: bool = AutoHoldingOption,
    as_json: bool = JsonOption,
) -> None:
    """Show or change an incident's cadence policy (what is not given is kept)."""
    changes = policy_changes(first_notice, update_every, apology_within, auto_holding)
    with state(ctx).session() as session:
        if any(v is not None for v in changes.values()):
            policy = cadence_policy.set_policy(
                session=session,
                incident_id=incident_id,
                **changes,  # type: ignore[arg-type]
            )
        else:
            incident_service.get_incident(session=session, incident_id=incident_id)
            policy = cadence_policy.policy_of(session=session, incident_id=incident_id)
    data = {"incident_id": incident_id, **PolicyOut.of(policy).model_dump()}
    emit(data, as_json=as_json, render=_render_policy)


def _render_policy(data: dict[str, Any]) -> None:
    console.print(
        f"incident #{data['incident_id']}: first notice within "
        f"{data['first_notice_within_minutes']} min · update every "
        f"{data['update_every_minutes']} min · apology within {data['apology_within_hours']} h · "
        f"automatic holding updates {'on' if data['auto_holding_update'] else 'off'}",
        highlight=False,
    )


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
    overdue_only: bool = typer.Option(False, "--overdue", help="Only what is late; exit 1 if any."),
    send_holding: bool = typer.Option(
        False,
        "--send-holding-updates",
        help="First post the holding updates now overdue (incidents that opted in); for cron.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """What each incident owes its customers now, by its own policy, from the ledger."""
    app = state(ctx)
    if send_holding:
        posted = holding.post_overdue(sessions=session_factory(app.engine))
        if posted and app.settings.dispatch == "distributed":
            from amends.delivery.jobs import enqueue_now

            enqueue_now(app.settings)
        if not as_json:
            console.print(f"holding updates posted: {len(posted)}", highlight=False)
    now = utcnow()
    with app.reading() as session:
        owed = sorted(
            (
                (found.incident, item)
                for found in cadence_service.watched(session=session, now=now)
                for item in found.due
            ),
            key=lambda pair: pair[1].due_at,
        )
        rows = [
            {
                "incident_id": incident.id,
                "title": incident.title,
                "notice": item.notice.value,
                "due_at": item.due_at.isoformat(),
                "overdue": item.overdue,
                "text": describe(item, now),
            }
            for incident, item in owed
            if item.overdue or not overdue_only
        ]
    emit(rows, as_json=as_json, render=_render)
    if overdue_only and rows:
        raise typer.Exit(1)
