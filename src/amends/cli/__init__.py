"""The ``amends`` command line: thin commands over the domain services."""

from __future__ import annotations

import sys
from typing import Any

import click
import typer
from pydantic import ValidationError
from rich.markup import escape
from typer.core import TyperGroup

from amends.cli import (
    apikeys,
    audit,
    availability,
    cadence,
    calls,
    catalog,
    compose,
    credits,
    database,
    deliveries,
    demo,
    drafts,
    facts,
    imports,
    incidents,
    intake,
    report,
    serve,
    statuspage,
    users,
)
from amends.cli.context import AppState, err_console
from amends.config import Settings
from amends.errors import AmendsError


class _Group(TyperGroup):
    """Turns domain errors into one clear line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AmendsError as exc:
            where = f" \\[{escape(exc.field)}]" if exc.field else ""
            err_console.print(f"[bold red]error[/] ({exc.code}){where}: {escape(exc.message)}")
            raise typer.Exit(1) from None
        except ValidationError as exc:
            for error in exc.errors():
                loc = ".".join(str(p) for p in error["loc"]) or "input"
                err_console.print(f"[bold red]error[/] \\[{escape(loc)}]: {escape(error['msg'])}")
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="amends: alert, apologise, explain, reassure and pay back when the service breaks.",
)


@app.callback()
def _root(
    ctx: typer.Context,
    database_url: str = typer.Option(
        None, "--database-url", envvar="AMENDS_DATABASE_URL", help="SQLAlchemy database URL."
    ),
) -> None:
    overrides = {"database_url": database_url} if database_url else {}
    ctx.obj = AppState(settings=Settings(**overrides))
    ctx.call_on_close(ctx.obj.close)


app.add_typer(database.app, name="db")
app.add_typer(catalog.components, name="component")
app.add_typer(catalog.customers, name="customer")
app.add_typer(catalog.subscribers, name="subscriber")
app.add_typer(calls.app, name="calls")
app.add_typer(imports.app, name="import")
incidents.app.command("facts")(facts.facts)
incidents.app.command("publish")(intake.publish)
incidents.app.command("discard")(intake.discard)
app.add_typer(intake.app, name="intake")
incidents.app.command("cadence")(cadence.policy_command)
app.add_typer(incidents.app, name="incident")
app.add_typer(drafts.app, name="draft")
app.command("audit")(audit.audit_command)
app.command("cadence")(cadence.cadence_command)
app.command("compose")(compose.compose_command)
app.command("impact")(incidents.impact)
app.command("deliveries")(deliveries.deliveries)
app.command("worker")(deliveries.worker)
app.command("availability")(availability.availability)
app.command("report")(report.report_command)
app.add_typer(credits.app, name="credits")
app.add_typer(apikeys.app, name="apikey")
app.add_typer(statuspage.app, name="statuspage")
app.add_typer(users.app, name="user")
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)


def main() -> None:
    sys.exit(app())
