"""``amends serve``: the REST API (and, as they arrive, the pages) over HTTP."""

from __future__ import annotations

import os

import typer

from amends.cli.context import err_console, state


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, help="TCP port."),
    reload: bool = typer.Option(False, help="Restart on code changes (development only)."),
) -> None:
    """Run the web app with Uvicorn. Docs at /api/v1/docs."""
    import uvicorn  # imported here so other commands start fast

    from amends.api.app import create_app

    if reload:
        # Reload needs an import string, not an app object: the child process
        # rebuilds the settings from AMENDS_* and amends.toml, so hand it the
        # one that may have come from --database-url.
        os.environ["AMENDS_DATABASE_URL"] = state(ctx).settings.database_url
        uvicorn.run(
            "amends.api.app:create_app_from_env", host=host, port=port, reload=True, factory=True
        )
        return
    settings = state(ctx).settings
    app = create_app(settings, start_dispatch=True)
    stop = None
    if settings.statuspage_export_dir is not None:
        from amends.cli.statuspage import background_export

        stop = background_export(settings, app.state.engine)
        err_console.print(f"static status page kept in {settings.statuspage_export_dir}")
    err_console.print(f"status page on http://{host}:{port}/")
    err_console.print(f"amends API on http://{host}:{port}/api/v1/docs")
    err_console.print(f"operator console on http://{host}:{port}/console/ (amends user create)")
    try:
        uvicorn.run(app, host=host, port=port)
    finally:
        if stop is not None:
            stop.set()
