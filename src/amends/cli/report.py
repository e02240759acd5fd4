"""``amends report INCIDENT``: the after-action record the team reads the next day."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from amends.cli.context import JsonOption, console, emit, state
from amends.credits.money import money
from amends.ratings import service as ratings
from amends.report import service as report_service

NAMES = {
    "time_to_first_notice": "time to first notice",
    "longest_update_gap": "longest gap between updates",
    "time_to_apology": "time to apology",
}


def report_command(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="The incident's id."),
    comments: int = typer.Option(
        report_service.COMMENTS_SHOWN, "--comments", min=0, max=1000,
        help="Newest comments shown per language.",
    ),
    comments_csv: Path = typer.Option(
        None, "--comments-csv", dir_okay=False, writable=True,
        help="Write every comment to this CSV file (UTF-8, one row per customer).",
    ),
    as_json: bool = JsonOption,
) -> None:  # fmt: skip
    """How the incident was communicated: cadence, reach by channel, ratings, credits."""
    with state(ctx).reading() as session:
        data = report_service.after_action(
            session=session, incident_id=incident_id, comments_shown=comments
        ).to_dict()
        if comments_csv is not None:
            written = _write_comments(session, incident_id, comments_csv)
    emit(data, as_json=as_json, render=render)
    if comments_csv is not None and not as_json:
        console.print(f"{written:,} comments written to {escape(str(comments_csv))}")


def _write_comments(session: Any, incident_id: int, path: Path) -> int:
    """All comments, newest first; written beside the target and renamed into
    place, so a failed export never leaves half a file."""
    target = path.resolve()
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    count = 0
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(ratings.COMMENT_FIELDS)
            for row in ratings.comments(session=session, incident_id=incident_id):
                writer.writerow([row["at"].isoformat(), *list(row.values())[1:]])
                count += 1
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def duration(seconds: int | None) -> str:
    """'9 min', '2 h 05 min', '1 d 03 h': what a person reads at a glance."""
    if seconds is None:
        return "—"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min" if minutes else f"{seconds} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


def render(data: dict[str, Any]) -> None:
    incident = data["incident"]
    console.print(
        f"[bold]#{incident['id']} {escape(incident['title'])}[/] ({incident['status']}): "
        f"started {incident['started_at']}, resolved {incident['resolved_at'] or '—'}"
    )
    _cadence(data["cadence"])
    _reach(data["reach"])
    _ratings(data["ratings"], data["comments"])
    _credits(data["credits"])


def _cadence(timing: dict[str, Any]) -> None:
    table = Table("measure", "took", "target", "", title="cadence (from the delivery ledger)")
    for key, name in NAMES.items():
        got = timing[key]
        met = {True: "[green]met[/]", False: "[bold red]missed[/]", None: "not yet"}[got["met"]]
        table.add_row(name, duration(got["seconds"]), duration(got["target_seconds"]), met)
    console.print(table)


def _reach(reach: dict[str, Any]) -> None:
    table = Table(
        "channel", "delivered", "failed", "opted out", "no address", "pending",
        title=f"reach: {reach['people_reached']:,} people received at least one message",
    )  # fmt: skip
    for channel, got in reach["by_channel"].items():
        table.add_row(channel, *(f"{got[o]:,}" for o in report_service.OUTCOMES))
    console.print(table)


def _ratings(summary: dict[str, Any], comments: dict[str, list[dict[str, Any]]]) -> None:
    table = Table("language", "ratings", "average", "1", "2", "3", "4", "5",
                  title="ratings (1 very badly … 5 very well)")  # fmt: skip
    rows = [*summary["by_language"].items(), ("all", summary)]
    for lang, got in rows:
        average = f"{got['average']:.2f}" if got["average"] is not None else "—"
        spread = [f"{got['distribution'][str(s)]:,}" for s in range(1, 6)]
        table.add_row(lang, f"{got['count']:,}", average, *spread)
    console.print(table)
    for lang, items in comments.items():
        shown = Table("at", "score", "from", "customer", "comment", title=f"comments ({lang})")
        for c in items:
            shown.add_row(
                c["at"][:16], str(c["score"]), c["notice_kind"],
                escape(c["customer_external_id"]), escape(c["comment"]),
            )  # fmt: skip
        console.print(shown)


def _credits(credits: dict[str, Any]) -> None:
    table = Table("credits", "currency", "count", "value", title="credits")
    for name in ("issued", "redeemed", "open", "expired", "void"):
        for currency, got in credits[name].items():
            value = money(got["amount_minor"], currency, "en")
            table.add_row(name, currency, f"{got['credits']:,}", value)
    console.print(table)
