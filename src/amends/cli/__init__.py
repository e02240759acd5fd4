"""The ``amends`` command line: thin commands over the domain services."""

from __future__ import annotations

import sys
from typing import Any

import typer
from pydantic import ValidationError
from rich.markup import escape

from amends.cli.context import AppState, err_console
from amends.cli.lazy import Lazy, LazyGroup
from amends.config import Settings
from amends.errors import AmendsError

#: Every top-level command, in the order ``amends --help`` lists them.
COMMANDS = (
    Lazy("audit", "amends.cli.audit:audit_command",
         "Check a message against the seven steps and the apology rules; "
         "exit 1 if anything blocks."),
    Lazy("cadence", "amends.cli.cadence:cadence_command",
         "What each incident owes its customers now, by its own policy, from the ledger."),
    Lazy("compose", "amends.cli.compose:compose_command",
         "Show the message a customer would get, with the auditor's verdict (nothing is sent)."),
    Lazy("impact", "amends.cli.incidents:impact",
         "Who is hit by an incident: counts, and optionally every affected site."),
    Lazy("deliveries", "amends.cli.deliveries:deliveries",
         "What became of an incident's notices; send, pause or resume what is owed."),
    Lazy("worker", "amends.cli.deliveries:worker",
         "Run a distributed delivery worker (Procrastinate, PostgreSQL): start any number."),
    Lazy("availability", "amends.cli.availability:availability",
         "Availability of COMPONENT (its dependencies' failures included), from real history."),
    Lazy("report", "amends.cli.report:report_command",
         "How the incident was communicated: cadence, reach by channel, ratings, credits."),
    Lazy("serve", "amends.cli.serve:serve", "Run the web app with Uvicorn. Docs at /api/v1/docs."),
    Lazy("demo", "amends.cli.demo:demo",
         "Replay GoDaddy's DNS outage of 10 September 2012 on a synthetic provider."),
    Lazy("db", "amends.cli.database:app", "Database schema."),
    Lazy("component", "amends.cli.catalog:components", "Components that can fail (DNS, e-mail…)."),
    Lazy("customer", "amends.cli.catalog:customers", "Customers and their sites."),
    Lazy("subscriber", "amends.cli.catalog:subscribers", "Followers who are not customers."),
    Lazy("calls", "amends.cli.calls:app", "Call lists: account managers phone customers."),
    Lazy("import", "amends.cli.imports:app",
         "Import customers and sites from CSV or JSONL files (gzip'd too); upsert by external id."),
    Lazy("intake", "amends.cli.intake:app", "Intake from monitoring: rules and drafts."),
    Lazy("incident", "amends.cli.incidents:app", "Incidents and scheduled maintenance."),
    Lazy("draft", "amends.cli.drafts:app", "Notices written by hand: draft, review, send."),
    Lazy("credits", "amends.cli.credits:app", "Credit policies, issuance, the ledger, reports."),
    Lazy("apikey", "amends.cli.apikeys:app", "API keys for the REST API."),
    Lazy("statuspage", "amends.cli.statuspage:app", "The public status page."),
    Lazy("user", "amends.cli.users:app", "Console users and their roles."),
)  # fmt: skip


class _Group(LazyGroup):
    """Turns domain errors into one clear line on stderr and exit code 1; each
    command's module is imported only when that command runs (see lazy.py)."""

    lazy = COMMANDS

    def invoke(self, ctx: typer.Context) -> Any:
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


def main() -> None:
    sys.exit(app())
