"""``amends audit FILE --lang es|en``: check a message before anyone sends it.

Exit status 0 when nothing blocks, 1 when something does, so a script or a CI
job can gate on it. The database is only opened with ``--incident``.
"""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from amends.cli.context import JsonOption, console, emit, err_console, state
from amends.errors import ValidationFailed
from amends.facts import service as facts_service
from amends.facts.kinds import CauseOwner, Exposure
from amends.messages.audit import Report, audit, gate

_COLOURS = {"pass": "green", "info": "blue", "warn": "yellow", "block": "bold red"}


def _read(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    path = Path(file)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationFailed(f"{file}: no such file", field="FILE") from None
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{file}: not UTF-8 text ({exc.reason})", field="FILE") from None


def _forms(pairs: list[str] | None) -> dict[str, str]:
    """``--compare sms=sms.txt`` → ``{"sms": <its text>}`` (rule S4)."""
    forms = {}
    for pair in pairs or []:
        name, sep, file = pair.partition("=")
        if not sep or not name.strip() or not file:
            raise ValidationFailed(
                f"--compare {pair!r}: expected FORM=FILE, e.g. sms=sms.txt", field="compare"
            )
        forms[name.strip()] = _read(file)
    return forms


def _percent(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        figure = Decimal(value.rstrip("%").replace(",", "."))
    except InvalidOperation:
        raise ValidationFailed(f"{value!r} is not a percentage", field="availability") from None
    if not 0 <= figure <= 100:
        raise ValidationFailed(f"{value!r} is not between 0 and 100", field="availability")
    return figure


def _render(data: dict[str, Any]) -> None:
    table = Table(
        "rule", "verdict", "evidence", "fix", title=f"audit ({data['lang']}, {data['kind']})"
    )
    for f in data["findings"]:
        colour = _COLOURS[f["verdict"]]
        table.add_row(
            f"{f['rule']} {escape(f['title'])}",
            f"[{colour}]{f['verdict']}[/]",
            escape(f["evidence"]),
            escape(f["fix"]) if f["verdict"] != "pass" else "",
        )
    console.print(table)
    for step in data["steps"]:
        mark = "[green]✓[/]" if step["present"] else "[bold red]✗[/]"
        console.print(
            f"{mark} {step['number']}. {escape(step['name'])}: {escape(step['evidence'])}"
        )
    verdict = "[bold red]BLOCKED[/]" if data["blocked"] else "[green]may be sent[/]"
    console.print(f"{verdict} (worst finding: {data['worst']})")


def audit_command(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="The message (UTF-8 text); - reads standard input."),
    lang: str = typer.Option(..., "--lang", help="es or en."),
    kind: str = typer.Option("apology", help="apology, breach_notice or notice."),
    incident: int = typer.Option(None, help="Judge against this incident's recorded facts."),
    cause_owner: CauseOwner = typer.Option(None, help="Who owned the root cause."),
    exposure: Exposure = typer.Option(None, help="The data-exposure assessment."),
    signed_off: bool = typer.Option(False, help="The 'none' assessment is signed off."),
    availability: str = typer.Option(None, help="Measured availability, percent (99.95)."),
    compare: list[str] = typer.Option(
        None, help="The same message on another channel, FORM=FILE (sms=sms.txt; repeatable)."
    ),
    override_by: str = typer.Option(None, help="Send despite blocking findings: who decides."),
    reason: str = typer.Option(None, help="Why (recorded with the override)."),
    as_json: bool = JsonOption,
) -> None:
    """Check a message against the seven steps and the apology rules; exit 1 if anything blocks."""
    text = _read(file)
    forms = _forms(compare)
    measured = _percent(availability)
    if incident is not None:
        with state(ctx).reading() as session:
            facts = gate.facts_for_audit(
                session=session, incident_id=incident, measured_availability=measured
            )
    else:
        facts = gate.facts_for_audit(
            session=None,
            cause_owner=cause_owner,
            exposure=exposure,
            exposure_signed_off=signed_off,
            measured_availability=measured,
        )
    report: Report = audit(text, lang, kind=kind, facts=facts, forms=forms)
    emit(report.to_dict(), as_json=as_json, render=_render)
    if report.blocked and override_by is not None:
        if incident is None:
            raise ValidationFailed("an override is recorded on an incident", field="incident")
        blocking = [f.rule for f in report.findings if f.verdict.value == "block"]
        with state(ctx).session() as session:
            facts_service.record_override(
                session=session,
                incident_id=incident,
                kind=kind,
                locale=report.lang,
                rules=blocking,
                who=override_by,
                why=reason or "",
            )
        err_console.print(
            f"override recorded: {escape(override_by)} sends despite {', '.join(blocking)}"
        )
        return
    if report.blocked:
        raise typer.Exit(1)
