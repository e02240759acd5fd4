"""``amends calls …``: the phone chain's lists, from the command line."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer
from rich.table import Table

from amends import flows
from amends.calls import service
from amends.calls.models import CallOutcome
from amends.calls.schemas import CallOut, ManagerOut
from amends.cli.context import JsonOption, console, emit, state
from amends.cli.incidents import SendOption, after, dispatch_after
from amends.delivery import call_lists

app = typer.Typer(no_args_is_help=True, help="Call lists: account managers phone customers.")


@app.command("manager-add")
def manager_add(
    ctx: typer.Context,
    name: str,
    email: str,
    phone: str = typer.Option(None, help="Where the manager gets their list by SMS."),
    locale: str = typer.Option("en", help="Language of their list: en or es."),
    as_json: bool = JsonOption,
) -> None:
    """Add an account manager who can be given customers to call."""
    with state(ctx).session() as session:
        manager = service.add_manager(
            session=session, name=name, email=email, phone=phone, locale=locale
        )
        data = ManagerOut.model_validate(manager).model_dump(mode="json")
    emit(data, as_json=as_json, render=lambda d: console.print(f"manager #{d['id']} {d['email']}"))


@app.command("managers")
def managers(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """The account managers."""
    with state(ctx).reading() as session:
        data = [
            ManagerOut.model_validate(m).model_dump(mode="json")
            for m in service.list_managers(session=session)
        ]

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("id", "name", "e-mail", "phone", "active")
        for r in rows:
            table.add_row(str(r["id"]), r["name"], r["email"], r["phone"] or "", str(r["active"]))
        console.print(table)

    emit(data, as_json=as_json, render=render)


@app.command("assign")
def assign(
    ctx: typer.Context,
    incident_id: int,
    tier: list[str] = typer.Option(..., "--tier", "-t", help="Customer tier to call; repeatable."),
    escalate_after: int = typer.Option(
        60, min=0, help="Minutes before a customer nobody reached gets an automated call."
    ),
    send: bool = SendOption,
    as_json: bool = JsonOption,
) -> None:
    """Deal the incident's affected customers of these tiers to the managers,
    round-robin, and send each manager their list."""
    with state(ctx).session() as session:
        added, notice = flows.assign_calls(
            session=session,
            incident_id=incident_id,
            tiers=tier,
            escalate_after=dt.timedelta(minutes=escalate_after),
        )
    emit(
        {"assigned": added},
        as_json=as_json,
        render=lambda d: console.print(f"{d['assigned']} customers assigned to call"),
    )
    after(ctx, incident_id, notice, send=send, as_json=as_json)


@app.command("escalate")
def escalate(ctx: typer.Context, send: bool = SendOption, as_json: bool = JsonOption) -> None:
    """Owe an automated call to every customer nobody reached by their list's
    deadline (for cron; `amends serve` and `amends worker` do it every minute)."""
    app_state = state(ctx)
    with app_state.session() as session:
        done = call_lists.escalate(session=session)
    emit(
        {"calls": done.total, "incidents": done.incidents},
        as_json=as_json,
        render=lambda d: console.print(f"{d['calls']} automated calls owed", highlight=False),
    )
    for incident_id in done.incidents:
        dispatch_after(app_state, incident_id, send=send, quiet=as_json)


@app.command("list")
def list_calls(
    ctx: typer.Context,
    incident_id: int,
    manager: str = typer.Option(None, help="Only this manager's list (e-mail)."),
    unreached: bool = typer.Option(False, help="Only customers nobody has reached yet."),
    as_json: bool = JsonOption,
) -> None:
    """Who to call, and how the calls went."""
    with state(ctx).reading() as session:
        rows = service.call_list(
            session=session,
            incident_id=incident_id,
            manager_email=manager,
            unreached_only=unreached,
        )
        data = [CallOut.model_validate(r).model_dump(mode="json") for r in rows]

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("id", "customer", "phone", "tier", "manager", "outcome", "calls")
        for r in rows:
            table.add_row(
                str(r["id"]),
                r["name"],
                r["phone"] or "",
                r["tier"],
                r["manager"],
                r["outcome"] or "—",
                str(r["attempts"]),
            )
        console.print(table)

    emit(data, as_json=as_json, render=render)


@app.command("record")
def record(
    ctx: typer.Context,
    assignment_id: int,
    outcome: CallOutcome,
    notes: str = typer.Option("", help="What was said or agreed."),
    as_json: bool = JsonOption,
) -> None:
    """Record a call: reached, voicemail or no_answer."""
    with state(ctx).session() as session:
        done = service.record(
            session=session, assignment_id=assignment_id, outcome=outcome, notes=notes
        )
        data = {"id": done.id, "outcome": done.outcome, "attempts": done.attempts}
    emit(data, as_json=as_json, render=lambda d: console.print(f"call {d['id']}: {d['outcome']}"))
