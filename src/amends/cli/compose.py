"""``amends compose KIND INCIDENT CUSTOMER``: the message one customer would get."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from amends.cli.context import JsonOption, console, emit, state
from amends.messages import service
from amends.messages.kinds import ChannelForm, NoticeKind
from amends.preferences import service as preferences


def _render(data: dict[str, Any]) -> None:
    if data["channel"] == "email":
        console.print(f"[bold]Subject:[/] {escape(data['subject'])}\n")
    console.print(escape(data["text"]))
    if data["segments"]:
        console.print(f"\n({data['segments']} SMS segment(s), {data['encoding']})")
    verdict = "[bold red]BLOCKED[/]" if data["audit"]["blocked"] else "[green]nothing blocks[/]"
    console.print(f"\nauditor: {verdict} (worst finding: {data['audit']['worst']})")


def compose_command(
    ctx: typer.Context,
    kind: NoticeKind = typer.Argument(..., help="Which notice."),
    incident_id: int = typer.Argument(..., metavar="INCIDENT"),
    customer: str = typer.Argument(..., help="The customer's external id."),
    channel: ChannelForm = typer.Option(ChannelForm.email, help="email, sms or voice."),
    company: str = typer.Option("amends", help="Who the message is from."),
    locale: str = typer.Option(None, help="Default: the customer's locale."),
    status_url: str = typer.Option("", help="Link to the status page or the full message."),
    signatory: str = typer.Option("", help="Who signs it (a senior, named person)."),
    as_json: bool = JsonOption,
) -> None:
    """Show the message a customer would get, with the auditor's verdict (nothing is sent)."""
    with state(ctx).reading() as session:
        facts = service.notice_facts(
            session=session,
            incident_id=incident_id,
            company=company,
            status_url=status_url,
            details_url=status_url,
            signatory=signatory,
        )
        message, report = service.compose_for_customer(
            session=session,
            kind=kind,
            incident_id=incident_id,
            customer_external_id=customer,
            channel=channel,
            facts=facts,
            locale=locale,
            rating_key=preferences.signing_key(session=session),
            public_url=state(ctx).settings.public_url,
        )
    data = {
        "kind": message.kind,
        "channel": message.channel,
        "locale": message.locale,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "segments": message.segments,
        "encoding": message.encoding,
        "audit": report.to_dict(),
    }
    emit(data, as_json=as_json, render=_render)
