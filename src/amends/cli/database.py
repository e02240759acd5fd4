"""``amends db``: schema migrations."""

from __future__ import annotations

import typer

from amends.cli.context import console, state
from amends.db import make_engine
from amends.migrations import current, upgrade

app = typer.Typer(no_args_is_help=True, help="Database schema.")


@app.command("upgrade")
def upgrade_command(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    engine = make_engine(state(ctx).settings.database_url)
    upgrade(engine, revision)
    console.print(f"database at revision [bold]{current(engine)}[/]")
    engine.dispose()


@app.command("current")
def current_command(ctx: typer.Context) -> None:
    """Print the database's migration revision."""
    engine = make_engine(state(ctx).settings.database_url)
    console.print(current(engine) or "empty (no migrations applied)")
    engine.dispose()
