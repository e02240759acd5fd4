"""``amends availability COMPONENT``: measured uptime, and the sentence an apology may quote."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from amends.availability import service
from amends.cli.context import JsonOption, console, emit, state
from amends.db import utcnow


def availability(
    ctx: typer.Context,
    component: str,
    period: str = typer.Option(
        None, "--period", help="YYYY-MM-DD, YYYY-MM, <n>d, <n>m or all (default: the four views)."
    ),
    by: str = typer.Option(None, "--by", help="Break the period down: day or month."),
    locale: str = typer.Option("en", help="Language of the track-record sentence (en, es)."),
    as_json: bool = JsonOption,
) -> None:
    """Availability of COMPONENT (its dependencies' failures included), from real history."""
    app_state = state(ctx)
    rules = service.rules_from(app_state.settings)
    now = utcnow()
    with app_state.reading() as session:
        if period is None:
            views = service.summary(session=session, component=component, now=now, rules=rules)
            record = service.track_record(
                session=session, component=component, locale=locale, now=now, rules=rules
            )
            data: dict[str, Any] = {
                "component": component,
                "views": {k: v.as_dict() for k, v in views.items()},
                "track_record": record.sentence if record else None,
            }
        else:
            start, end = service.parse_period(period, now)
            if by in ("day", "month"):
                rows = service.series(
                    session=session,
                    component=component,
                    start=start,
                    end=end,
                    by=by,
                    now=now,
                    rules=rules,
                )
            elif by is None:
                rows = [service.availability(
                    session=session, component=component, start=start, end=end, now=now, rules=rules
                )]  # fmt: skip
            else:
                raise typer.BadParameter("--by must be day or month")
            data = {
                "component": component,
                "views": {r.start.isoformat(): r.as_dict() for r in rows},
            }
    emit(data, as_json=as_json, render=_render)


def _render(data: dict[str, Any]) -> None:
    table = Table("period", "from", "to", "down (s)", "availability")
    for name, row in data["views"].items():
        shown = "—" if row["percent"] is None else f"{row['percent'][:8]} %"
        table.add_row(name, row["start"][:19], row["end"][:19], row["down_seconds"], shown)
    console.print(f"[bold]{data['component']}[/]")
    console.print(table)
    if "track_record" in data:
        console.print(
            f"track record: {data['track_record'] or '(not enough history to claim one)'}",
            highlight=False,
        )
