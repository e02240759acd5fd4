"""``amends incident facts INCIDENT …``: record and show what is known."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from amends.cli.context import JsonOption, console, emit, state
from amends.facts import service
from amends.facts.kinds import CauseOwner, DataKind, Exposure
from amends.facts.schemas import FactsOut


def _render(data: dict[str, Any]) -> None:
    console.print(f"[bold]incident #{data['incident_id']} — facts[/]")
    for label, key in (
        ("what failed", "what_failed"),
        ("customer-visible effect", "customer_effect"),
        ("root cause", "root_cause"),
        ("cause owner", "cause_owner"),
        ("contact point", "contact_point"),
        ("signed by", "signatory"),
    ):
        console.print(f"{label}: {escape(str(data[key] or '—'))}")
    for label, key in (("actions taken", "actions_taken"), ("actions planned", "actions_planned")):
        console.print(f"{label}:")
        for action in data[key]:
            console.print(f"  • {escape(action)}")
    exposure = data["exposure"]
    if exposure == "none":
        exposure += (
            f" (signed off by {data['exposure_signed_off_by']} at {data['exposure_signed_off_at']})"
        )
    elif exposure == "confirmed":
        exposure += ": " + ", ".join(data["exposed_data"])
    console.print(f"data exposure: [bold]{escape(exposure)}[/]")


def facts(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., metavar="INCIDENT"),
    what_failed: str = typer.Option(None, help="What failed."),
    effect: str = typer.Option(None, help="What customers saw."),
    cause: str = typer.Option(None, help="The root cause, in plain words."),
    cause_owner: CauseOwner = typer.Option(None, help="Who owned the cause."),
    taken: list[str] = typer.Option(None, help="A corrective action taken (repeatable; replaces)."),
    planned: list[str] = typer.Option(None, help="An action planned (repeatable; replaces)."),
    contact: str = typer.Option(None, help="Contact point for questions (DPO, address)."),
    signatory: str = typer.Option(
        None, help='Who signs the apology: a senior, named person ("Ana Ruiz, CEO").'
    ),
    lang: str = typer.Option(
        None, "--lang", help="The texts given are this language's translation (e.g. es)."
    ),
    exposure: Exposure = typer.Option(None, help="Data-exposure assessment."),
    data: list[DataKind] = typer.Option(
        None, help="Data kind exposed (with confirmed; repeatable)."
    ),
    signed_off_by: str = typer.Option(None, help="Who signs off an assessment of none."),
    as_json: bool = JsonOption,
) -> None:
    """Record an incident's facts and data-exposure assessment; with no option, show them."""
    with state(ctx).session() as session:
        if any(
            v is not None
            for v in (what_failed, effect, cause, cause_owner, taken, planned, contact, signatory)
        ):
            service.record_facts(
                session=session,
                incident_id=incident_id,
                what_failed=what_failed,
                customer_effect=effect,
                root_cause=cause,
                cause_owner=cause_owner,
                actions_taken=taken,
                actions_planned=planned,
                contact_point=contact,
                signatory=signatory,
                lang=lang,
            )
        if exposure is not None:
            service.assess_exposure(
                session=session,
                incident_id=incident_id,
                exposure=exposure,
                data_kinds=data or (),
                signed_off_by=signed_off_by,
            )
        out = FactsOut.of(service.get_facts(session=session, incident_id=incident_id))
    emit(out.model_dump(mode="json"), as_json=as_json, render=_render)
