"""``amends deliveries INCIDENT``, ``amends deliveries send|pause|resume INCIDENT``,
``amends worker``."""

from __future__ import annotations

import asyncio
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from amends.cli.context import AppState, JsonOption, console, emit, state
from amends.delivery import ledger, pausing, slices
from amends.delivery.dispatch import Dispatcher, Tally
from amends.errors import ValidationFailed


def render_counts(data: dict[str, Any]) -> None:
    console.print(
        f"[bold]incident #{data['incident_id']}[/]: {data['total']:,} deliveries "
        f"in {len(data['notices'])} notices"
    )
    states = ["pending", "sending", "sent", "failed", "suppressed"]
    table = Table("channel", *states, "total")
    for channel, counts in data["by_channel"].items():
        table.add_row(
            channel, *(f"{counts.get(s, 0):,}" for s in states), f"{sum(counts.values()):,}"
        )
    table.add_row(
        "[bold]all[/]", *(f"{data['by_state'].get(s, 0):,}" for s in states), f"{data['total']:,}"
    )
    console.print(table)
    notices = Table(
        "notice", "kind", "update", "created (UTC)", "deliveries", "sending", title="notices"
    )
    for n in data["notices"]:
        notices.add_row(
            str(n["id"]),
            n["kind"],
            str(n["update_id"] or ""),
            n["created_at"],
            f"{n['deliveries']:,}",
            f"[yellow]paused[/] by {n['paused_by']} at {n['paused_at'][:19]} UTC"
            if n.get("paused_at")
            else "",
        )
    console.print(notices)
    if data.get("paused"):
        console.print(
            f"[yellow]{data['paused']} notice(s) paused[/]: nothing of theirs is sent until "
            f"[bold]amends deliveries resume {data['incident_id']}[/]",
            highlight=False,
        )


def counts_data(app: AppState, incident_id: int) -> dict[str, Any]:
    with app.reading() as session:
        found = ledger.counts(session=session, incident_id=incident_id)
    return {
        "incident_id": found.incident_id,
        "total": found.total,
        "by_state": found.by_state,
        "by_channel": found.by_channel,
        "notices": found.notices,
        "paused": found.paused,
    }


def pause_or_resume(
    app: AppState, action: str, incident_id: int, notice_id: int | None, by: str
) -> dict[str, Any]:
    """Pause or resume the incident's notices (or one); in distributed mode a
    resume enqueues the rows at once instead of at the next sweep."""
    change = pausing.pause if action == "pause" else pausing.resume
    with app.session() as session:
        done = change(session=session, incident_id=incident_id, notice_id=notice_id, by=by)
    if action == "resume" and done.changed and app.settings.dispatch == "distributed":
        from amends.delivery.jobs import enqueue_now

        enqueue_now(app.settings)
    key = "paused" if action == "pause" else "resumed"
    return {
        "incident_id": done.incident_id,
        "notice": done.notice_id,
        key: done.changed,
        "paused_now": done.paused,
    }


def render_change(data: dict[str, Any]) -> None:
    what = f"notice {data['notice']}" if data["notice"] else "its notices"
    verb, count = ("paused", data["paused"]) if "paused" in data else ("resumed", data["resumed"])
    console.print(
        f"incident #{data['incident_id']}: {what}: {count} {verb}; {data['paused_now']} paused now",
        highlight=False,
    )


def send_inline(app: AppState, incident_id: int, *, quiet: bool = False) -> Tally:
    """Send what an incident's notices still owe from this process, with a live bar."""
    with app.reading() as session:
        notice_ids = ledger.notice_ids(session=session, incident_id=incident_id)
        owed = ledger.outstanding(session=session, notice_ids=notice_ids)
    dispatcher = Dispatcher(engine=app.engine, settings=app.settings)
    columns = (
        TextColumn("[bold]sending[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sent {task.fields[sent]:,} · failed {task.fields[failed]:,}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=quiet) as progress:
        task = progress.add_task("send", total=owed, sent=0, failed=0)

        def update(tally: Tally) -> None:
            done = tally.sent + tally.failed + tally.retried
            progress.update(task, completed=done, sent=tally.sent, failed=tally.failed)

        def rest() -> int:
            with app.session() as session:
                return slices.fill_pending(session=session, notice_ids=notice_ids)

        async def run() -> Tally:
            try:
                # A notice written in two steps: its first slice goes out
                # first, then the rest is written and sent (delivery/slices.py).
                tally = await dispatcher.drain(notice_ids=notice_ids, progress=update)
                added = await asyncio.to_thread(rest)
                if added:
                    progress.update(task, total=owed + added)

                    def update_rest(more: Tally) -> None:
                        both = Tally()
                        both.add(tally)
                        both.add(more)
                        update(both)

                    tally.add(await dispatcher.drain(notice_ids=notice_ids, progress=update_rest))
                return tally
            finally:
                await dispatcher.close()

        tally = asyncio.run(run())
    if not dispatcher.channels:
        console.print("[yellow]no channel is installed here: nothing could be sent[/]")
    return tally


def deliveries(
    ctx: typer.Context,
    first: str = typer.Argument(
        ..., metavar="INCIDENT|send|pause|resume", help="An incident id, or what to do."
    ),
    second: int = typer.Argument(
        None, metavar="INCIDENT", help="After send, pause or resume: the incident id."
    ),
    notice: int = typer.Option(
        None, "--notice", help="pause/resume: only this notice (else all of the incident's)."
    ),
    by: str = typer.Option("cli", "--by", help="pause/resume: who, for the audit log."),
    as_json: bool = JsonOption,
) -> None:
    """What became of an incident's notices; send, pause or resume what is owed.

    'amends deliveries INCIDENT' counts rows by state and channel and says
    which notices are paused; 'send INCIDENT' sends what is still owed from
    this process; 'pause INCIDENT [--notice N]' stops claiming their rows
    (messages already with a provider finish); 'resume' makes them due again
    at once."""
    app = state(ctx)
    if first in ("send", "pause", "resume") and second is None:
        raise ValidationFailed(
            f"say which incident: amends deliveries {first} ID", field="incident"
        )
    if first == "send":
        send_inline(app, second, quiet=as_json)
        emit(counts_data(app, second), as_json=as_json, render=render_counts)
        return
    if first in ("pause", "resume"):
        data = pause_or_resume(app, first, second, notice, by.strip() or "cli")
        emit(data, as_json=as_json, render=render_change)
        return
    try:
        incident_id = int(first)
    except ValueError:
        raise ValidationFailed(f"{first!r} is not an incident id", field="incident") from None
    emit(counts_data(app, incident_id), as_json=as_json, render=render_counts)


def worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(2, min=1, help="Jobs (ranges of ~1,000 rows) at once."),
) -> None:
    """Run a distributed delivery worker (Procrastinate, PostgreSQL): start any number."""
    from amends.cadence.jobs import install
    from amends.delivery.jobs import Deliveries

    app = state(ctx)
    deliveries = Deliveries(app.settings)
    install(deliveries)  # the automatic holding updates, every minute

    async def run() -> None:
        async with deliveries.app.open_async():
            await deliveries.ensure_schema()
            await deliveries.enqueue_unfinished()
            await deliveries.run_worker(concurrency=concurrency)

    console.print("amends worker: sending owed notices; Ctrl-C stops after the current batch")
    asyncio.run(run())
